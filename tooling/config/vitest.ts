import { defaultServerConditions } from 'vite';
import { defineConfig, type ViteUserConfig } from 'vitest/config';

/**
 * Workspace packages resolve to their `src/` through the `jqjobs-source`
 * export condition, so tests never need a build first.
 */
export function jqVitestConfig(test: NonNullable<ViteUserConfig['test']> = {}): ViteUserConfig {
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
