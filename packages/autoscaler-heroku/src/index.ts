export { HerokuScaler, type HerokuScalerOptions, type HerokuClientLike, type HerokuRequestOptions, type HerokuMiddleware } from './heroku-scaler.ts';
export { RateBudget, HEROKU_BUCKET_SIZE, HEROKU_REFILL_PER_MS } from './rate-budget.ts';
