import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What is awaited, for the error when it does not come. */
  message?: string;
}

/** Polls a condition until it holds, or throws once the timeout has passed. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 60_000, intervalMs = 100, message = 'a condition' }: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`);
    await sleep(intervalMs);
  }
}
