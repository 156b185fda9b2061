import { type Command, Option } from 'commander';
import { type Config, ConfigError, loadConfig } from '../../config/load-config.js';
import { formatDuration, parseDuration } from '../../domain/duration.js';
import { decide } from '../../domain/policy/decide.js';
import { formatDecision } from '../../domain/policy/explain.js';
import { lintPolicySet } from '../../domain/policy/lint.js';
import type { DecisionInput } from '../../domain/policy/types.js';
import { describeTarget, type RoleKind, type Target } from '../../domain/target.js';
import { durationArg, listArg, timeArg } from '../arguments.js';
import { outputOption } from '../context.js';

/** Bad input to a policy command: printed as `error: …`, exit 1. */
class PolicyInputError extends Error {}

/**
 * Loads the config offline (the loader reads only the config file: no kubeconfig, token file or database),
 * or prints every problem as `error: FILE: PATH: message` and exits 1.
 */
function loadOrExit(file: string): Config {
  try {
    return loadConfig(file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const lines = e.message.split('\n');
    for (const line of lines) console.error(`error: ${line}`);
    console.error(`${lines.length} ${lines.length === 1 ? 'error' : 'errors'}: the config is not valid`);
    process.exit(1);
  }
}

export function addPolicyCommands(program: Command): void {
  const policy = program
    .command('policy')
    .description('check and explain the policies of a config file, offline');

  policy
    .command('check')
    .description('validate a config file; warn about policies that never match and profiles none allows')
    .requiredOption('--config <file>', 'config file (YAML)')
    .action((opts: { config: string }) => {
      const config = loadOrExit(opts.config);
      const set = config.policySet;
      const warnings = [...config.policyWarnings, ...lintPolicySet(set, config.file)];
      for (const w of warnings) console.log(`warning: ${w.where}: ${w.message}`);
      const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
      console.log(
        `ok: ${config.file}: ${count(set.policies.length, 'policy', 'policies')}, ${count(set.profiles.length, 'profile', 'profiles')}, ${count(warnings.length, 'warning', 'warnings')}; digest ${set.digest}`,
      );
    });

  policy
    .command('explain')
    .description('decide a request offline and show why: every policy considered and what failed')
    .requiredOption('--config <file>', 'config file (YAML)')
    .requiredOption('--user <name>', 'who asks')
    .option('--groups <names>', "the requester's groups, separated by commas", listArg)
    .option('--cluster <names>', 'cluster, or several separated by commas', listArg)
    .option('--role <name>', 'role name')
    .addOption(new Option('--role-kind <kind>', 'kind of role').choices(['ClusterRole', 'Role']))
    .option('--namespace <names>', 'namespace, or several separated by commas', listArg)
    .option('--cluster-wide', 'the role across the whole cluster')
    .option('--profile <name>', 'ask for a profile (instead of --cluster/--role/--namespace)')
    .option('--duration <d>', "how long, e.g. 30m (default: the policy's defaultDuration)", durationArg)
    .option('--ticket <id>', 'ticket or incident reference')
    .option('--at <time>', 'judge at this RFC 3339 time instead of now', timeArg)
    .addOption(outputOption())
    .action((opts: ExplainOptions) => {
      const config = loadOrExit(opts.config);
      let input: DecisionInput;
      try {
        input = explainInput(config, opts);
      } catch (e) {
        if (!(e instanceof PolicyInputError)) throw e;
        console.error(`error: ${e.message}`);
        process.exit(1);
      }
      const now = opts.at ? new Date(opts.at) : new Date();
      // Offline: no namespace labels, role rules or live grants. The engine notes what it could not judge.
      const decision = decide(config.policySet, input, { now });
      if (opts.output === 'json') {
        console.log(JSON.stringify({ decision }, null, 2));
        return;
      }
      console.log(describeInput(input, now));
      console.log(formatDecision(decision));
    });
}

interface ExplainOptions {
  config: string;
  user: string;
  groups?: string[];
  cluster?: string[];
  role?: string;
  roleKind?: RoleKind;
  namespace?: string[];
  clusterWide?: boolean;
  profile?: string;
  duration?: string;
  ticket?: string;
  at?: string;
  output?: 'json';
}

/** The request `elevate request` would make with the same flags: every cluster with every namespace. */
function explainInput(config: Config, o: ExplainOptions): DecisionInput {
  const common = {
    requester: o.user,
    groups: o.groups ?? [],
    durationMs: o.duration ? (parseDuration(o.duration) as number) : null,
    ticket: o.ticket ?? null,
  };
  const targetFlags = o.cluster || o.role || o.roleKind || o.namespace || o.clusterWide;
  if (o.profile !== undefined) {
    if (targetFlags)
      throw new PolicyInputError(
        'give either --profile, or --cluster/--role/--namespace/--cluster-wide, not both',
      );
    const profile = config.policySet.profiles.find((p) => p.name === o.profile);
    if (!profile)
      throw new PolicyInputError(
        `unknown profile ${o.profile} (the config has ${names(config.policySet.profiles.map((p) => p.name))})`,
      );
    return { ...common, targets: profile.targets, profile: profile.name };
  }
  if (!o.cluster || !o.role)
    throw new PolicyInputError(
      'give --cluster and --role (with --namespace or --cluster-wide), or --profile',
    );
  if (Boolean(o.namespace) === Boolean(o.clusterWide))
    throw new PolicyInputError('give exactly one of --namespace NS or --cluster-wide');
  const roleKind = o.roleKind ?? 'ClusterRole';
  if (o.clusterWide && roleKind === 'Role')
    throw new PolicyInputError('a Role lives in a namespace: give --namespace, or use a ClusterRole');
  const known = config.clusters.map((c) => c.name);
  for (const c of o.cluster) {
    if (!known.includes(c) && !config.home?.clusterSecrets)
      throw new PolicyInputError(`unknown cluster ${c} (the config has ${names(known)})`);
  }
  const role = o.role;
  const targets: Target[] = o.cluster.flatMap((cluster) =>
    (o.namespace ?? [null]).map((namespace) => ({ cluster, namespace, role, roleKind })),
  );
  return { ...common, targets, profile: null };
}

const names = (items: string[]) => (items.length === 0 ? 'none' : items.join(', '));

function describeInput(input: DecisionInput, now: Date): string {
  const groups = input.groups.length === 0 ? 'no groups' : `groups ${input.groups.join(', ')}`;
  const lines = [
    `request by ${input.requester} (${groups}) at ${now.toISOString()}${input.profile ? `, profile ${input.profile}` : ''}:`,
    ...input.targets.map((t) => `  ${describeTarget(t)}`),
    `  duration ${input.durationMs === null ? "(the policy's default)" : formatDuration(input.durationMs)}, ticket ${input.ticket ?? '(none)'}`,
  ];
  return lines.join('\n');
}
