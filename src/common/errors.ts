// The node's one "not now" error: whatever layer finds that a request cannot be
// served safely at the moment (owners silent, etcd unreachable, a newer term)
// throws it, and the server answers 503 with its message.
export class UnavailableError extends Error {}
