/**
 * Stops calling a dependency that keeps failing, so requests answer at once instead of each waiting out
 * its timeout. After `threshold` outages in a row the circuit opens for `coolDownMs`; then calls go
 * through again, and one more outage reopens it at once (a success closes it). Only failures the caller
 * counts as outages (timeouts, refused connections, 5xx) trip it; a refused request is the caller's.
 */
export class CircuitBreaker {
  private consecutiveOutages = 0;
  private openUntil = 0;

  constructor(
    private readonly threshold: number,
    private readonly coolDownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get isOpen(): boolean {
    return this.now() < this.openUntil;
  }

  async run<T>(call: () => Promise<T>, isOutage: (error: unknown) => boolean, whenOpen: () => Error): Promise<T> {
    if (this.isOpen) throw whenOpen();
    try {
      const result = await call();
      this.consecutiveOutages = 0;
      return result;
    } catch (error) {
      if (isOutage(error)) {
        this.consecutiveOutages += 1;
        if (this.consecutiveOutages >= this.threshold) this.openUntil = this.now() + this.coolDownMs;
      }
      throw error;
    }
  }
}
