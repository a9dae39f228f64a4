/** `jqjobs admin`: serve the web dashboard (src/admin-server) over a store until SIGINT/SIGTERM. */
import { createLogger } from '@jqjobs/core';
import { startAdminServer } from '../admin-server/index.ts';
import { generateToken, isLoopbackHost, MIN_TOKEN_LENGTH } from '../admin-server/auth.ts';
import { defineCommand } from '../command.ts';
import { StoreUnavailableError, UsageError } from '../errors.ts';
import { loadJobModules } from '../load-jobs.ts';
import { openStore, redact, storeKind, storeOptionSpecs, storeOptionsFrom } from '../open-store.ts';

export const adminCommand = defineCommand({
  name: 'admin',
  summary: 'serve the web dashboard (counts, throughput, jobs, restart/retry/delete/resolve)',
  usage: '--store <url> [--port <n>] [--host <addr>] [--token <secret>] [--jobs <module>]',
  details: [
    'Binds 127.0.0.1 by default. Every request needs the token: open the sign-in URL printed',
    'at start once (it sets a session cookie and drops the token from the address bar), or',
    'send "Authorization: Bearer <token>". Without --token (or $JQJOBS_ADMIN_TOKEN) a random',
    'one is generated and printed. Stop with Ctrl-C or SIGTERM.',
    '',
    '--jobs loads job definitions so the dashboard can resolve wait_async jobs and run',
    'cleanup() on delete. The throughput chart samples stats() in this process: its history',
    'starts when the dashboard starts.',
  ].join('\n'),
  options: {
    ...storeOptionSpecs,
    host: { type: 'string', valueName: '<addr>', description: 'interface to bind (anything but loopback exposes the dashboard to the network)', defaultText: '127.0.0.1' },
    port: { type: 'integer', short: 'p', min: 0, max: 65_535, valueName: '<n>', description: 'port; 0 picks a free one', defaultText: '8787' },
    token: { type: 'string', valueName: '<secret>', env: 'JQJOBS_ADMIN_TOKEN', description: `access token, at least ${MIN_TOKEN_LENGTH} characters`, defaultText: 'random, printed at start' },
    jobs: { type: 'string', valueName: '<module>', multiple: true, description: 'module exporting job definitions (for resolve and cleanup)' },
    'sample-interval': { type: 'number', min: 0.1, max: 600, valueName: '<s>', description: 'seconds between stats() samples for the throughput chart', defaultText: '10' },
  },
  async run({ options: o }, ctx) {
    const url = o.store!;
    storeKind(url);
    if (o.token !== undefined && o.token.length < MIN_TOKEN_LENGTH) throw new UsageError(`--token must be at least ${MIN_TOKEN_LENGTH} characters`);
    const host = o.host ?? '127.0.0.1';
    const jobs = o.jobs ? await loadJobModules(o.jobs, ctx.cwd) : undefined;
    const logger = createLogger('warn', { write: (line) => ctx.stderr.write(line + '\n') });
    const store = await openStore(url, storeOptionsFrom(o, logger));
    try {
      await store.stats();
    } catch (err) {
      await store.close().catch(() => {});
      throw new StoreUnavailableError(redact(url), err);
    }
    const token = o.token ?? generateToken();
    let server;
    try {
      server = await startAdminServer({
        store,
        token,
        host,
        port: o.port ?? 8787,
        logger,
        storeLabel: storeKind(url),
        ...(jobs ? { jobs } : {}),
        ...(o['sample-interval'] !== undefined ? { sampleIntervalMs: Math.round(o['sample-interval'] * 1000) } : {}),
      });
    } catch (err) {
      await store.close().catch(() => {});
      const code = (err as { code?: unknown }).code;
      if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
        throw new UsageError(`cannot listen on ${host}:${o.port ?? 8787}: ${(err as Error).message}`);
      }
      throw err;
    }
    if (!isLoopbackHost(host)) ctx.stderr.write(`jqjobs admin: warning: listening on ${host}, reachable from the network; the token is the only protection and traffic is not encrypted\n`);
    ctx.stderr.write(`jqjobs admin: dashboard for ${redact(url)} at ${server.url}\n`);
    ctx.stderr.write(`jqjobs admin: sign in by opening ${server.loginUrl} once (scripts: Authorization: Bearer <token>)\n`);

    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    ctx.stderr.write('jqjobs admin: stopping\n');
    await server.close();
    await store.close();
    return 0;
  },
});
