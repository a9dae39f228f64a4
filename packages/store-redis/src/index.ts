export { RedisStore, type RedisStoreOptions, type RedisConnection } from './redis-store.ts';
export { PayloadTooLargeError, ConnectionLostError } from './errors.ts';
