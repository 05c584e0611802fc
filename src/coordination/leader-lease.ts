// How long a node may act on its etcd lease. etcd ends a lease no sooner than
// its TTL after it received the last keepalive, which it received after we
// sent it: measured from the send on our monotonic clock, the lease is alive
// for TTL, provided our clock does not run slower than etcd's. The margin
// covers a clock rate error far beyond real quartz drift, so a leader stops
// serving before anyone else can be elected.
export const CLOCK_RATE_MARGIN = 0.1;

export function leaseSafeUntil(keepaliveSentAt: number, ttlMs: number): number {
  return keepaliveSentAt + ttlMs * (1 - CLOCK_RATE_MARGIN);
}

/** etcd leases are granted in whole seconds; the failure timeout rounded up, at least etcd's minimum of 2 s. */
export function leaseTtlSeconds(failureTimeoutMs: number): number {
  return Math.max(2, Math.ceil(failureTimeoutMs / 1000));
}
