import { type Command, InvalidArgumentError } from 'commander';

function clusterCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 10)
    throw new InvalidArgumentError('must be an integer from 1 to 10');
  return n;
}

/** Local real control planes for tests and demos. */
export function addTestenvCommands(program: Command): void {
  const testenv = program
    .command('testenv')
    .description('local real Kubernetes control planes for tests and demos');
  testenv
    .command('up')
    .description('start N control planes (etcd, kube-apiserver, kube-controller-manager) on 127.0.0.1')
    .requiredOption('--dir <dir>', 'state directory')
    .option('--clusters <n>', 'how many clusters', clusterCount, 1)
    .option(
      '--apiserver-arg <flag>',
      'extra kube-apiserver flag (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [],
    )
    .action(async (opts: { dir: string; clusters: number; apiserverArg: string[] }) => {
      const { testenvUp } = await import('../../testenv/testenv.js');
      const clusters = await testenvUp({
        dir: opts.dir,
        clusters: opts.clusters,
        apiserverArgs: opts.apiserverArg,
        log: (line) => console.error(line),
      });
      for (const c of clusters) console.log(`${c.name}\t${c.server}\t${c.kubeconfigPath}`);
    });
  testenv
    .command('down')
    .description('stop the control planes started in DIR (and nothing else)')
    .requiredOption('--dir <dir>', 'state directory')
    .action(async (opts: { dir: string }) => {
      const { testenvDown } = await import('../../testenv/testenv.js');
      await testenvDown({ dir: opts.dir });
    });
}
