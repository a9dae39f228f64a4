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
  const conditions = ['jqjobs-source', ...defaultServerConditions];
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
