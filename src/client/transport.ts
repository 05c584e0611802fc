import { Pool } from 'undici';
import { describeConnectionFailure } from '../security/tls.js';
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

export interface TransportOptions {
  /** HTTPS; with `ca`, node certificates are checked against it instead of the system's CAs. */
  tls?: { ca?: string | Buffer } | null;
  /** Sent as `Authorization: Bearer TOKEN` on every request. */
  token?: string;
}

/** One keep-alive pool per node, created on first use. */
export class Transport {
  private readonly pools = new Map<string, Pool>();
  private closed = false;
  private readonly auth: Record<string, string>;

  constructor(private readonly options: TransportOptions = {}) {
    this.auth = options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };
  }

  async send(node: string, { method, path, body, headers = {}, timeoutMs }: SendOptions): Promise<Answer> {
    if (this.closed) throw new WarehouseError('The client is closed');
    try {
      const response = await this.pool(node).request({
        method,
        path,
        body,
        headers: body === undefined ? { ...headers, ...this.auth } : { ...headers, ...this.auth, 'content-type': 'application/json' },
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
      const { tls } = this.options;
      pool = new Pool(`${tls ? 'https' : 'http'}://${node}`, { connections: 8, keepAliveTimeout: 30_000, ...(tls?.ca ? { connect: { ca: tls.ca } } : {}) });
      this.pools.set(node, pool);
    }
    return pool;
  }
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${timeoutMs}ms`;
  return describeConnectionFailure(error);
}
