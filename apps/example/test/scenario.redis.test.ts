// Needs Redis (JQ_REDIS_URL); the test gets its own key prefix, deleted afterwards.
import { createRedisPrefix } from './helpers.ts';
import { scenarioTests } from './scenario-suite.ts';

scenarioTests('redis', createRedisPrefix);
