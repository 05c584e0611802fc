// The one interface every phase drives: the store and etcd both implement it.

/** null for success, otherwise a short error kind ("HTTP 503 ...", "ECONNRESET", "not found"). */
export type OpResult = string | null;

export interface MemoryReport {
  /** Node id or etcd member name. */
  member: string;
  pid: number | null;
  rssBytes: number | null;
  heapUsedBytes: number | null;
  /** Records the member stores (live documents and tombstones), when it tells. */
  records: number | null;
  /** Bytes the member's data dir occupies on disk (as du counts them). */
  diskBytes: number | null;
}

export interface Target {
  /** "warehouse" or "etcd": the name shown in the reports. */
  readonly name: string;
  /** One line: what the requests go to. */
  describe(): string;
  set(key: string, value: string): Promise<OpResult>;
  /** Reads a key expected to exist: a missing key is an error. */
  get(key: string): Promise<OpResult>;
  /** Deletes a key expected to exist: a missing key is an error. */
  delete(key: string): Promise<OpResult>;
  /** Called before each phase, e.g. to follow a new leader. */
  prepare(): Promise<void>;
  /** Processes serving the target that this tool can observe (for CPU and memory). */
  pids(): number[];
  memory(): Promise<MemoryReport[]>;
  /**
   * The longest event-loop delay any serving process had since the previous
   * call (ms); null when the target does not tell. Called before and after each phase.
   */
  loopDelay(): Promise<number | null>;
  close(): Promise<void>;
}

/** A short error kind from a thrown error. */
export function errorKind(error: unknown): string {
  const err = error as { code?: unknown; name?: string; message?: string };
  if (typeof err.code === 'string' && err.code) return err.code;
  const message = (err.message ?? String(error)).split('\n')[0]!.slice(0, 80);
  return err.name && err.name !== 'Error' ? `${err.name}: ${message}` : message;
}
