import { CircuitBreaker } from '../src/modules/billing/circuit-breaker';

describe('circuit breaker (the one in front of Stripe)', () => {
  const outage = new Error('connection refused');
  const refused = new Error('card declined');
  const isOutage = (error: unknown) => error === outage;
  const open = () => new Error('open');

  it('when the dependency fails 5 times in a row, then calls fail at once for the cool-down, then one try goes through', async () => {
    let now = 0;
    let calls = 0;
    const breaker = new CircuitBreaker(5, 30_000, () => now);
    const failing = () => {
      calls += 1;
      return Promise.reject(outage);
    };
    for (let i = 0; i < 5; i += 1) await expect(breaker.run(failing, isOutage, open)).rejects.toBe(outage);
    await expect(breaker.run(failing, isOutage, open)).rejects.toThrow('open');
    expect(calls).toBe(5);

    now = 30_001;
    // Half-open: one more outage reopens it at once.
    await expect(breaker.run(failing, isOutage, open)).rejects.toBe(outage);
    await expect(breaker.run(failing, isOutage, open)).rejects.toThrow('open');
    now = 60_002;
    await expect(breaker.run(() => Promise.resolve('ok'), isOutage, open)).resolves.toBe('ok');
    // Closed again: it takes 5 new outages to open it.
    for (let i = 0; i < 4; i += 1) await expect(breaker.run(failing, isOutage, open)).rejects.toBe(outage);
    await expect(breaker.run(() => Promise.resolve('still ok'), isOutage, open)).resolves.toBe('still ok');
  });

  it('when the dependency refuses a request (not an outage), then the circuit stays closed', async () => {
    const breaker = new CircuitBreaker(2, 30_000, () => 0);
    for (let i = 0; i < 5; i += 1) await expect(breaker.run(() => Promise.reject(refused), isOutage, open)).rejects.toBe(refused);
    expect(breaker.isOpen).toBe(false);
  });
});
