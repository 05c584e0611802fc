// How a document request is labelled in the metrics: a fixed, small set of
// operations and outcomes, so the label cardinality cannot grow with traffic.

export const OPERATIONS = ['GET', 'SET', 'DELETE'] as const;
export type Operation = (typeof OPERATIONS)[number];

export const OUTCOMES = ['ok', 'not_found', 'bad_request', 'too_large', 'conflict', 'redirected', 'unavailable', 'error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

const BY_METHOD: Record<string, Operation> = { GET: 'GET', PUT: 'SET', DELETE: 'DELETE' };

export function operationOf(method: string): Operation | undefined {
  return BY_METHOD[method];
}

export function outcomeOf(status: number): Outcome {
  if (status < 300) return 'ok';
  if (status === 307) return 'redirected';
  if (status === 404) return 'not_found';
  if (status === 413) return 'too_large';
  // 409 and 412: a conditional write whose condition did not hold.
  if (status === 409 || status === 412) return 'conflict';
  if (status === 503) return 'unavailable';
  if (status < 500) return 'bad_request';
  return 'error';
}
