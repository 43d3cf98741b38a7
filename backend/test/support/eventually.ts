/**
 * Waits for something a test cannot subscribe to (a log line, a row, an answer) by polling `check` until
 * it holds, and fails naming `what` after `timeoutMs`. The one way tests wait: never a fixed sleep.
 */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
