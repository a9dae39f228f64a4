import { jqVitestConfig } from '@jqjobs/config/vitest';

export default jqVitestConfig();
