// The autoscaler sizes one worker pool per queue from the store's numbers. With no
// cloud settings it is a dry run (NoopScaler: decisions are logged, nothing is
// scaled); with Heroku or AWS settings it drives that provider. The drivers are
// imported only when configured.
import { Autoscaler, ChimeraScaler, NoopScaler, type QueueScalingOptions, type Scalable } from '@jqjobs/autoscaler';
import type { Store } from '@jqjobs/core';
import { QUEUES, type QueueName } from './jobs.ts';

/** Per queue: how far to scale. Each queue is its own worker pool (Procfile process type, or AWS group). */
const POLICIES: Record<QueueName, QueueScalingOptions> = {
  payments: { scalingAlgorithm: 'linear', maxConcurrency: 5 },
  email: { scalingAlgorithm: 'linear', maxConcurrency: 5 },
  documents: { scalingAlgorithm: 'halfLinear', maxConcurrency: 3 },
  search: { scalingAlgorithm: 'linear', maxConcurrency: 1 },
};

export interface ScalerChoice {
  scaler: Scalable;
  /** For the logs: `dry run (NoopScaler)`, `Heroku app …`, `AWS groups …`. */
  label: string;
  dryRun: boolean;
}

/**
 * - `HEROKU_API_TOKEN` + `HEROKU_APP_NAME`: Heroku formation, one process type per queue;
 * - `JQ_AWS_GROUP_PREFIX` + `AWS_REGION`: one Auto Scaling group per queue, named prefix + queue;
 * - neither: a dry run.
 * Half a setting is an error rather than a silent dry run.
 */
export async function chooseScaler(env: NodeJS.ProcessEnv = process.env): Promise<ScalerChoice> {
  const heroku = env.HEROKU_API_TOKEN || env.HEROKU_APP_NAME;
  const awsPrefix = env.JQ_AWS_GROUP_PREFIX;
  if (heroku && awsPrefix) throw new Error('both Heroku (HEROKU_*) and AWS (JQ_AWS_GROUP_PREFIX) autoscaler settings are set: choose one');
  if (heroku) {
    if (!env.HEROKU_API_TOKEN || !env.HEROKU_APP_NAME) throw new Error('the Heroku autoscaler needs both HEROKU_API_TOKEN and HEROKU_APP_NAME');
    const { HerokuScaler } = await import('@jqjobs/autoscaler-heroku');
    return { scaler: new HerokuScaler({ app: env.HEROKU_APP_NAME, token: env.HEROKU_API_TOKEN }), label: `Heroku app ${env.HEROKU_APP_NAME}`, dryRun: false };
  }
  if (awsPrefix) {
    const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
    if (!region) throw new Error('the AWS autoscaler needs AWS_REGION with JQ_AWS_GROUP_PREFIX');
    const { AwsAutoScalingGroupScaler } = await import('@jqjobs/autoscaler-aws');
    const scaler = new ChimeraScaler(Object.fromEntries(QUEUES.map((q) => [q, new AwsAutoScalingGroupScaler({ groupName: `${awsPrefix}${q}`, region })])));
    return { scaler, label: `AWS Auto Scaling groups ${awsPrefix}{${QUEUES.join(',')}} in ${region}`, dryRun: false };
  }
  return { scaler: new NoopScaler(), label: 'dry run (NoopScaler)', dryRun: true };
}

export function createAutoscaler(store: Store, scaler: Scalable, pollingIntervalSeconds = 5): Autoscaler {
  // The default lease (a lock in the store) lets every web process run this:
  // one of them is active, the others stand by.
  return new Autoscaler(store, scaler, { queues: POLICIES, pollingIntervalSeconds, logger: 'warn' });
}
