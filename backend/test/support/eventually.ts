import request from 'supertest';

const POLL_MS = 20;

/** Polls `check` until it holds, for at most `timeoutMs`: the milliseconds it took, or undefined if it never held. */
async function pollUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number | undefined> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) return undefined;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * Waits for something a test cannot subscribe to (a log line, a row, an answer) by polling `check` until
 * it holds, and fails naming `what` after `timeoutMs`. The one way tests wait: never a fixed sleep.
 */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  if ((await pollUntil(check, timeoutMs)) === undefined) throw new Error(`${what} not met within ${timeoutMs} ms`);
}

/**
 * How long until `probe`'s answer satisfies `done`, asking again and again for at most `ms`: the
 * milliseconds, or Infinity. For bounds a test asserts ("refused within a second"), where a timeout
 * is the finding rather than a failure to wait.
 */
export async function answeredWithin(ms: number, probe: () => Promise<request.Response>, done: (res: request.Response) => boolean): Promise<number> {
  return (await pollUntil(async () => done(await probe()), ms)) ?? Infinity;
}
