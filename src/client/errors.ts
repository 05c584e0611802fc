/** Base class, so callers can tell the client's own failures from programming errors. */
export class WarehouseError extends Error {
  override name = 'WarehouseError';
}

/** The request itself is wrong (key, value, size); retrying cannot help. */
export class InvalidRequestError extends WarehouseError {
  override name = 'InvalidRequestError';
}

/** No leader could be reached before the failover deadline. */
export class UnavailableError extends WarehouseError {
  override name = 'UnavailableError';
}

/** A node could not be reached (refused, reset, timed out); internal to the client. */
export class NodeUnreachableError extends WarehouseError {
  override name = 'NodeUnreachableError';

  constructor(
    readonly node: string,
    readonly reason: string,
  ) {
    super(`${node}: ${reason}`);
  }
}

/** A conditional write found another version than the one it asked for (or the key present for a create). */
export class ConflictError extends WarehouseError {
  override name = 'ConflictError';

  constructor(
    message: string,
    /** The version the key has now; null when it is absent. */
    readonly current: string | null,
  ) {
    super(message);
  }
}

/** The node refused the request's token: none or an unknown one (401), or one whose role is too weak (403). */
export class AccessDeniedError extends WarehouseError {
  override name = 'AccessDeniedError';

  constructor(
    message: string,
    readonly status: 401 | 403,
  ) {
    super(message);
  }
}
