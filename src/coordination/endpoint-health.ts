// etcd's own health check: `GET /health` on a member's client URL answers
// `{"health":"true"}` only while that member is part of a quorum.
import { request } from 'undici';

export async function endpointHealthy(clientUrl: string, timeoutMs: number): Promise<boolean> {
  try {
    const answer = await request(`${clientUrl}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await answer.body.text();
    return answer.statusCode === 200 && /"health"\s*:\s*"true"/.test(body);
  } catch {
    return false;
  }
}
