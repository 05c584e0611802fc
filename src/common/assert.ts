// Invariants checked where they are cheap. A broken one is a bug in this
// node, not bad input or an unavailable peer, so it throws an error of its
// own that no caller handles as an expected failure.
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

/** `message` may be a function, so that hot paths only format it when the invariant breaks. */
export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'string' ? message : message());
}
