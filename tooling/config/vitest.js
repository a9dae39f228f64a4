// Plain JavaScript on purpose: vitest loads configs of workspace packages through
// Node, which cannot import TypeScript on Node 20.
import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

/**
 * Workspace packages resolve to their `src/` through the `jqjobs-source`
 * export condition, so tests never need a build first.
 * @param {import('vitest/config').ViteUserConfig['test']} [test]
 */
export function jqVitestConfig(test = {}) {
  // Vite's server conditions include "module", which some packages (the AWS SDK)
  // map to extensionless ESM for bundlers that Node cannot load when vitest
  // externalises them: resolve dependencies the way Node does.
  const conditions = ['jqjobs-source', ...defaultServerConditions.filter((c) => c !== 'module')];
  return defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['jqjobs-source'] } },
    test: {
      environment: 'node',
      testTimeout: 20_000,
      hookTimeout: 30_000,
      ...test,
    },
  });
}
