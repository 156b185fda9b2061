import { defineConfig } from 'vitest/config';

// The API conformance pass (schemathesis) is the longest file by far and mostly waits on its own Python
// processes: `make test` (scripts/run-tests.sh) runs its project in a second Vitest process beside the
// suite's, each with a control plane of its own. A plain `vitest run` runs both, one after the other.
const conformance = 'test/integration/api-conformance.test.ts';
const shared = {
  globalSetup: ['test/global-setup.ts'],
  testTimeout: 60_000,
  hookTimeout: 180_000,
  // Files share one control plane; running them one at a time keeps a 2-core machine responsive.
  fileParallelism: false,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: [conformance],
          // One worker for every file: the modules (Fastify, client-node, the AWS SDK…) load once, not 110
          // times. Tests restore what they change (timers, env), and every server they start has its own
          // registry, store and clients, so nothing leaks from one file into the next.
          isolate: false,
        },
      },
      { test: { ...shared, name: 'conformance', include: [conformance] } },
    ],
  },
});
