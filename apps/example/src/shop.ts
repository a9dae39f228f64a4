// Wires the shop together: store, job types, HTTP API, workers, autoscaler and
// the after-response work. server.ts and demo.ts start it; so do the tests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Store } from '@jqjobs/core';
import { createDelayed } from '@jqjobs/delayed-job';
import { createApi } from './api.ts';
import { chooseScaler, createAutoscaler } from './autoscale.ts';
import { createShopJobs, QUEUES } from './jobs.ts';
import { openStore, type StoreKind } from './store.ts';
import { jobEvent, Timeline } from './timeline.ts';
import { type RunningWorkers, startInlineWorker, startWorkerProcess } from './workers.ts';

export interface ShopOptions {
  /** `memory` (default), `postgres://…` or `redis://…[?prefix=…]`. */
  storeUrl?: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  paymentProviderUrl: string;
  webhookSecret: string;
  timeline?: Timeline;
  /** @default 2 */
  workerConcurrency?: number;
  /** Node flags for the forked worker process (PostgreSQL/Redis only). @default this process's */
  workerExecArgv?: string[];
  /** Where the autoscaler's settings come from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default 5 */
  autoscalerIntervalSeconds?: number;
  reviewRequestDelayMs?: number;
  reindexDebounceMs?: number;
}

export interface Shop {
  /** `http://host:port` */
  url: string;
  store: Store;
  storeKind: StoreKind;
  storeLabel: string;
  workersLabel: string;
  scalerLabel: string;
  timeline: Timeline;
  /** Stops taking requests, finishes the after-response work, stops the autoscaler and the workers, closes the store. */
  close(): Promise<void>;
}

export async function startShop(options: ShopOptions): Promise<Shop> {
  const timeline = options.timeline ?? new Timeline();
  // Settings first: a mistake there should fail before anything is opened.
  const { scaler, label: scalerLabel, dryRun } = await chooseScaler(options.env);
  const { store, kind, label } = await openStore(options.storeUrl);
  const jobs = createShopJobs(options);

  store.onStatusChange((job, oldStatus, message) => {
    // The autoscaler keeps a lease record in the store; it is not shop work.
    if (!(QUEUES as readonly string[]).includes(job.queueName)) return;
    const event = jobEvent(job, oldStatus, message, jobs.all);
    if (event) timeline.add(event);
  });

  const delayed = createDelayed({ onError: (err) => console.error('after-response work failed', err) });
  const autoscaler = createAutoscaler(store, scaler, options.autoscalerIntervalSeconds);
  autoscaler.on('decision', (r) => {
    if (r.action !== 'none') timeline.note('autoscaler', `${dryRun ? '(dry run) ' : ''}${r.message}`);
  });

  const server = http.createServer(createApi({ store, jobs, webhookSecret: options.webhookSecret, timeline, delayed, autoscaler }));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await delayed.close();
    await store.close();
    throw err;
  }
  const autoscaling = autoscaler.run().catch((err: unknown) => console.error('autoscaler stopped', err));
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;

  const concurrency = options.workerConcurrency ?? 2;
  const workers: RunningWorkers =
    kind === 'memory'
      ? startInlineWorker(store, jobs, concurrency)
      : startWorkerProcess({
          timeline,
          ...(options.workerExecArgv ? { execArgv: options.workerExecArgv } : {}),
          env: {
            ...process.env,
            JQ_STORE_URL: options.storeUrl,
            PAYMENT_PROVIDER_URL: options.paymentProviderUrl,
            JQ_WORKER_CONCURRENCY: String(concurrency),
            // Its job events reach the timeline over IPC; its own log shows only problems.
            JQ_WORKER_LOG_LEVEL: 'warn',
          },
        });

  let closing: Promise<void> | null = null;
  return {
    url,
    store,
    storeKind: kind,
    storeLabel: label,
    workersLabel: workers.label,
    scalerLabel,
    timeline,
    close: () =>
      (closing ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await serverClosed;
        await delayed.close();
        await autoscaler.stop();
        await autoscaling;
        await workers.stop();
        await store.close();
      })()),
  };
}
