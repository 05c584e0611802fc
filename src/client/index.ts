export { WarehouseClient, type ClientEvents, type ClientOptions, type ConditionOptions, type DeleteResult, type GetResult, type SetResult } from './client.js';
export { AccessDeniedError, ConflictError, InvalidRequestError, UnavailableError, WarehouseError } from './errors.js';
export type { Heartbeat, WriteResult } from '../protocol/schemas.js';
