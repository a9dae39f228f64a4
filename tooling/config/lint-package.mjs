#!/usr/bin/env node
// Checks the manifest and layout of the package in the current directory against
// the workspace conventions (STYLE.md): ESM-only, a source export condition first,
// dist-only files, engines, README, no runtime dependency on drivers a package
// does not use directly. Prints one line per problem; exits 1 if any.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.cwd();
const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
const problems = [];
const need = (ok, msg) => ok || problems.push(msg);

need(pkg.type === 'module', '"type" must be "module" (ESM only)');
need(existsSync(path.join(dir, 'README.md')), 'README.md is missing');
need(existsSync(path.join(dir, 'tsconfig.json')), 'tsconfig.json is missing');

if (!pkg.private) {
  need(pkg.sideEffects === false, '"sideEffects" must be false');
  need(Array.isArray(pkg.files) && pkg.files.includes('dist'), '"files" must include "dist"');
  need(pkg.engines?.node === '>=20.19', '"engines.node" must be ">=20.19"');
  need(pkg.publishConfig?.access === 'public', '"publishConfig.access" must be "public"');
  const root = pkg.exports?.['.'];
  need(root && typeof root === 'object', '"exports" must have a "." entry');
  if (root && typeof root === 'object') {
    const conditions = Object.keys(root);
    need(conditions[0] === 'jqjobs-source', 'the first export condition must be "jqjobs-source"');
    need(root['jqjobs-source'] === './src/index.ts', '"jqjobs-source" must point at ./src/index.ts');
    need(root.types === './dist/index.d.mts' && root.default === './dist/index.mjs', 'exports must name ./dist/index.d.mts and ./dist/index.mjs (what tsdown writes)');
  }
  need(existsSync(path.join(dir, 'src/index.ts')), 'src/index.ts is missing');
  if (pkg.name !== '@jqjobs/core') {
    need(pkg.peerDependencies?.['@jqjobs/core'], '@jqjobs/core must be a peer dependency (one copy, so instanceof on errors works)');
    need(!pkg.dependencies?.['@jqjobs/core'], '@jqjobs/core must not be a plain dependency');
  }
  // Drivers are peers: the user constructs the client, and never gets one they do not use.
  for (const driver of ['pg', 'ioredis', 'heroku-client', '@aws-sdk/client-auto-scaling']) {
    need(!pkg.dependencies?.[driver], `${driver} must be a peer dependency, not a dependency`);
  }
  for (const [name, range] of Object.entries(pkg.peerDependencies ?? {})) {
    need(!String(range).startsWith('catalog:'), `peer ${name} must not use a catalog range`);
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(`${pkg.name}: ${p}`);
  process.exit(1);
}
console.log(`${pkg.name}: manifest ok`);
