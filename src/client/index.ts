export { WarehouseClient, type ClientEvents, type ClientOptions, type DeleteResult, type GetResult } from './client.js';
export { InvalidRequestError, UnavailableError, WarehouseError } from './errors.js';
export type { Heartbeat, WriteResult } from '../protocol/schemas.js';
