import { scenarioTests } from './scenario-suite.ts';

scenarioTests('memory', async () => null);
