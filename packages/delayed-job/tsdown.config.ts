import { defineConfig } from 'tsdown';

export default defineConfig({
  entry: ['src/index.ts'],
  format: 'esm',
  dts: true,
  platform: 'node',
  target: 'node20',
  // The manifest's exports name dist/index.js and dist/index.d.ts; tsdown 0.21 would write .mjs/.d.mts.
  fixedExtension: false,
});
