import { Pool } from 'undici';
import { NodeUnreachableError, WarehouseError } from './errors.js';

export interface Answer {
  status: number;
  text: string;
  /** The document's version (`x-warehouse-version`), when the answer carries one. */
  version?: string;
}

export interface SendOptions {
  method: 'GET' | 'PUT' | 'DELETE';
  path: string;
  body?: string;
  /** Extra request headers (conditions, idempotency key). */
  headers?: Record<string, string>;
  timeoutMs: number;
}

/** One keep-alive pool per node, created on first use. */
export class Transport {
  private readonly pools = new Map<string, Pool>();
  private closed = false;

  async send(node: string, { method, path, body, headers = {}, timeoutMs }: SendOptions): Promise<Answer> {
    if (this.closed) throw new WarehouseError('The client is closed');
    try {
      const response = await this.pool(node).request({
        method,
        path,
        body,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      const version = response.headers['x-warehouse-version'];
      const text = await response.body.text();
      return typeof version === 'string' ? { status: response.statusCode, text, version } : { status: response.statusCode, text };
    } catch (error) {
      if (this.closed) throw new WarehouseError('The client is closed');
      throw new NodeUnreachableError(node, describeNetworkError(error, timeoutMs));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    // destroy, not close: in-flight requests (e.g. to a frozen node) must not delay shutdown.
    await Promise.all([...this.pools.values()].map((pool) => pool.destroy()));
    this.pools.clear();
  }

  private pool(node: string): Pool {
    let pool = this.pools.get(node);
    if (!pool) {
      pool = new Pool(`http://${node}`, { connections: 8, keepAliveTimeout: 30_000 });
      this.pools.set(node, pool);
    }
    return pool;
  }
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${timeoutMs}ms`;
  return error instanceof Error ? error.message : String(error);
}
