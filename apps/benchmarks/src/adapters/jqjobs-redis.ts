import type { Store } from '@jqjobs/core';
import { RedisStore } from '@jqjobs/store-redis';
import { JQJobsAdapter } from './jqjobs.ts';
import type { Target } from './types.ts';

export class JQJobsRedisAdapter extends JQJobsAdapter {
  readonly name = 'jqjobs-redis' as const;
  readonly backend = 'redis' as const;

  constructor(private readonly target: Target) {
    super();
  }

  protected async open(): Promise<Store> {
    return new RedisStore({ url: this.target.redis.url }, { prefix: 'jqbench' });
  }
}
