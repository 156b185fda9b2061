import type { Command } from 'commander';
import { client, type Output, outputOption } from '../context.js';
import { table } from '../render.js';

interface ClusterList {
  items: { name: string; labels: Record<string, string>; source: string }[];
}

/** `elevate clusters`: where a request may go now, with the labels policies match. */
export function addClusterCommands(program: Command): void {
  program
    .command('clusters')
    .description('list the clusters Elevate manages now (the config file’s and those from cluster Secrets)')
    .addOption(outputOption())
    .action(async (opts: Output, cmd: Command) => {
      const list = await client(cmd).json<ClusterList>('GET', '/api/v1/clusters');
      if (opts.output === 'json') {
        console.log(JSON.stringify(list, null, 2));
        return;
      }
      const labels = (l: Record<string, string>) =>
        Object.entries(l)
          .map(([k, v]) => `${k}=${v}`)
          .join(',') || '-';
      console.log(
        table(
          ['NAME', 'LABELS', 'SOURCE'],
          list.items.map((c) => [c.name, labels(c.labels), c.source]),
        ),
      );
    });
}
