import { CircuitOpenError, OutboundCalls, OutboundTimeoutError } from '../src/infra/outbound/outbound-call';
import { createLogger } from '../src/infra/logger';
import { eventually } from './support/eventually';

describe('outbound calls (the one policy in front of every other service)', () => {
  const outage = Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
  const refused = Object.assign(new Error('card declined'), { status: 402 });
  const isOutage = (error: unknown) => error === outage;
  const policy = { breakerVolume: 4, breakerResetMs: 300, retries: 2, retryBaseMs: 5 };
  const calls = () => new OutboundCalls(policy, createLogger('silent'));

  it('when a destination keeps failing, then its breaker opens, calls fail at once without reaching it, one probe goes through half-open, and a success closes it', async () => {
    const outbound = calls();
    let reached = 0;
    const failing = () => {
      reached += 1;
      return Promise.reject(outage);
    };
    const call = { destination: 'test:down', timeoutMs: 1000, idempotent: false, isOutage };
    for (let i = 0; i < 4; i += 1) await expect(outbound.call(call, failing)).rejects.toBe(outage);
    expect(outbound.stateOf('test:down')).toBe('open');
    const open = await outbound.call(call, failing).catch((error: unknown) => error);
    expect(open).toBeInstanceOf(CircuitOpenError);
    expect((open as CircuitOpenError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(reached).toBe(4);

    await eventually(() => outbound.stateOf('test:down') === 'half_open');
    // Half-open: a failed probe reopens it at once.
    await expect(outbound.call(call, failing)).rejects.toBe(outage);
    expect(outbound.stateOf('test:down')).toBe('open');
    await eventually(() => outbound.stateOf('test:down') === 'half_open');
    await expect(outbound.call(call, () => Promise.resolve('ok'))).resolves.toBe('ok');
    expect(outbound.stateOf('test:down')).toBe('closed');
    expect(outbound.snapshot()).toEqual([
      { destination: 'test:down', state: 'closed', calls: { success: 1, failure: 5, timeout: 0, refused: 0, rejected: 1 }, retries: 0 },
    ]);
  });

  it('when an idempotent call meets an outage, then it is retried with backoff; a call that may not be repeated is sent once', async () => {
    const outbound = calls();
    let tries = 0;
    const flaky = () => (++tries < 3 ? Promise.reject(outage) : Promise.resolve('third time'));
    await expect(outbound.call({ destination: 'test:flaky', timeoutMs: 1000, idempotent: true, isOutage }, flaky)).resolves.toBe('third time');
    expect(tries).toBe(3);

    tries = 0;
    await expect(outbound.call({ destination: 'test:once', timeoutMs: 1000, idempotent: false, isOutage }, flaky)).rejects.toBe(outage);
    expect(tries).toBe(1);
    expect(outbound.snapshot().find((entry) => entry.destination === 'test:flaky')!.retries).toBe(2);
  });

  it('when the destination refuses the request itself, then it is neither retried nor counted towards opening the breaker', async () => {
    const outbound = calls();
    let tries = 0;
    const refusing = () => {
      tries += 1;
      return Promise.reject(refused);
    };
    for (let i = 0; i < 6; i += 1) await expect(outbound.call({ destination: 'test:refuses', timeoutMs: 1000, idempotent: true, isOutage }, refusing)).rejects.toBe(refused);
    expect(tries).toBe(6);
    expect(outbound.stateOf('test:refuses')).toBe('closed');
    expect(outbound.snapshot()[0]!.calls.refused).toBe(6);
  });

  it('when the destination does not answer in time, then the call fails with a timeout and its work is aborted', async () => {
    const outbound = calls();
    let aborted = false;
    const hanging = (signal: AbortSignal) =>
      new Promise<never>(() => {
        signal.addEventListener('abort', () => (aborted = true));
      });
    await expect(outbound.call({ destination: 'test:slow', timeoutMs: 30, idempotent: false }, hanging)).rejects.toBeInstanceOf(OutboundTimeoutError);
    expect(aborted).toBe(true);
    expect(outbound.snapshot()[0]!.calls.timeout).toBe(1);
  });
});
