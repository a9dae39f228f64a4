import type { ViteUserConfig } from 'vitest/config';
export declare function jqVitestConfig(test?: ViteUserConfig['test']): ViteUserConfig;
