/** Backoff between attempts: 30 s doubling to at most an hour, each delay jittered down to half so retries spread out. */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(3600_000, 30_000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export type AttemptOutcome = 'succeeded' | 'retrying' | 'failed';

/**
 * 2xx succeeds; no answer (network error, timeout), 429 and 5xx are retried while the window lasts;
 * anything else, redirects and 410 included, fails for good (410 also disables the target).
 */
export function classify(status: number | undefined, retryable: boolean): AttemptOutcome {
  if (status !== undefined && status >= 200 && status < 300) return 'succeeded';
  return isTransient(status) && retryable ? 'retrying' : 'failed';
}

/** No answer, 429 or 5xx: the receiver is down or overloaded (what its circuit breaker counts), not refusing the event. */
export const isTransient = (status: number | undefined): boolean => status === undefined || status === 429 || status >= 500;
