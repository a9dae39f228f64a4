export {
  AwsAutoScalingGroupScaler,
  type AwsAutoScalingGroupScalerOptions,
  type AutoScalingClientLike,
  type GroupState,
  LIVE_STATES,
} from './aws-scaler.ts';
