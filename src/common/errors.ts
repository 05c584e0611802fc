// The node's one "not now" error: whatever layer finds that a request cannot be
// served safely at the moment (owners silent, etcd unreachable, a newer term)
// throws it, and the server answers 503 with its message.
export class UnavailableError extends Error {}

/**
 * The HTTP status a failed request answers: the error's own 4xx (a malformed
 * message, a fenced term), 500 for anything else, which is a bug to log.
 */
export function failureStatus(error: unknown): number {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : 500;
}

/** An error's message as a one-line answer body. */
export function oneLine(error: unknown, fallback = 'Internal error'): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] || fallback;
}
