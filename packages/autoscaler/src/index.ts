export { Autoscaler, type AutoscalerStore, type AutoscalerEvents, type DecisionRecord, type DecisionOutcome } from './autoscaler.ts';
export { calculateScale, calculateLatencyScale, type ScalingAlgorithm, type ScalingPolicyName, type LatencyScaleInput } from './calculate-scale.ts';
export {
  decide,
  desiredWorkers,
  recordTick,
  EMPTY_HISTORY,
  type Decision,
  type DecisionInputs,
  type DecisionReason,
  type QueueHistory,
  type QueuePolicy,
  type QueueSnapshot,
} from './decide.ts';
export type { Scalable, ScaleOutcome, ScaleResult, ScaleUpdate } from './scalable.ts';
export { ChimeraScaler } from './chimera-scaler.ts';
export { NoopScaler, type NoopScalerOptions, type NoopScaleCall } from './noop-scaler.ts';
export { type AutoscalerLease, InMemoryLease, StoreLease, type StoreLeaseOptions, LEASE_QUEUE, LEASE_JOB_TYPE } from './lease.ts';
export { type AutoscalerOptions, type QueueScalingOptions, type ResolvedAutoscalerOptions, resolveAutoscalerOptions, resolveQueuePolicy } from './options.ts';
export { type AutoscalerConfig, type RunAutoscalerOptions, defineAutoscalerConfig, validateAutoscalerConfig, loadAutoscalerConfig, runAutoscaler } from './config.ts';
export {
  InvalidAutoscalerConfigError,
  UnknownQueueError,
  ScalerError,
  ScalerUnavailableError,
  ScalerFatalError,
  type ScalerErrorCode,
  type ScalerErrorDetails,
} from './errors.ts';
export { queueNameProblem } from './validate.ts';
