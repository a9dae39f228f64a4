// The two settings that pick infrastructure: the store URL and the autoscaler's environment.
import { HerokuScaler } from '@jqjobs/autoscaler-heroku';
import { ChimeraScaler, NoopScaler } from '@jqjobs/autoscaler';
import { MemoryStore } from '@jqjobs/store-memory';
import { describe, expect, it } from 'vitest';
import { chooseScaler } from '../src/autoscale.ts';
import { openStore } from '../src/store.ts';

describe('openStore', () => {
  it('is the memory store by default', async () => {
    for (const url of [undefined, '', 'memory', ' memory ']) {
      const opened = await openStore(url);
      expect(opened.kind).toBe('memory');
      expect(opened.store).toBeInstanceOf(MemoryStore);
      await opened.store.close();
    }
  });

  it('refuses what it does not know, naming the setting', async () => {
    await expect(openStore('mysql://127.0.0.1/shop')).rejects.toThrow(/unsupported store URL mysql:/);
    await expect(openStore('not a url')).rejects.toThrow(/JQ_STORE_URL \/ --store must be/);
  });
});

describe('chooseScaler', () => {
  it('is a dry run without cloud settings', async () => {
    const c = await chooseScaler({});
    expect(c.scaler).toBeInstanceOf(NoopScaler);
    expect(c.dryRun).toBe(true);
  });

  it('drives Heroku with HEROKU_API_TOKEN and HEROKU_APP_NAME', async () => {
    const c = await chooseScaler({ HEROKU_API_TOKEN: 'token', HEROKU_APP_NAME: 'my-shop' });
    expect(c.scaler).toBeInstanceOf(HerokuScaler);
    expect(c.dryRun).toBe(false);
  });

  it('drives one AWS group per queue with JQ_AWS_GROUP_PREFIX and AWS_REGION', async () => {
    const c = await chooseScaler({ JQ_AWS_GROUP_PREFIX: 'shop-workers-', AWS_REGION: 'eu-west-1' });
    expect(c.scaler).toBeInstanceOf(ChimeraScaler);
    expect(c.label).toContain('shop-workers-{payments,email,documents,search}');
  });

  it('refuses half a setting rather than silently not scaling', async () => {
    await expect(chooseScaler({ HEROKU_API_TOKEN: 'token' })).rejects.toThrow(/HEROKU_APP_NAME/);
    await expect(chooseScaler({ JQ_AWS_GROUP_PREFIX: 'p-' })).rejects.toThrow(/AWS_REGION/);
    await expect(chooseScaler({ HEROKU_APP_NAME: 'a', HEROKU_API_TOKEN: 't', JQ_AWS_GROUP_PREFIX: 'p-' })).rejects.toThrow(/choose one/);
  });
});
