import { jqVitestConfig } from '@jqjobs/config/vitest';

const config = jqVitestConfig();
// The AWS SDK's exports list a "module" condition (extensionless ESM meant for
// bundlers) before "node"; Node cannot load that build when vitest externalises
// it, so resolve the SDK as Node does.
const nodeOnly = (conditions: string[] | undefined) => conditions?.filter((c) => c !== 'module');
if (config.resolve) config.resolve.conditions = nodeOnly(config.resolve.conditions);
if (config.ssr?.resolve) config.ssr.resolve.conditions = nodeOnly(config.ssr.resolve.conditions);

export default config;
