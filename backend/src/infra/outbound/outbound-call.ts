import CircuitBreaker from 'opossum';
import { AppConfig } from '../../config/app-config';
import { createLogger, Logger } from '../logger';

/** What one call to another service needs to say; the policy itself is the same for every caller. */
export interface OutboundCall {
  /**
   * The breaker's key: a service and the host it is reached at (`supplier:edi.example.com`, `stripe`,
   * `webhook:hooks.example.com`). Never a URL with a path, query or credentials: it is a metric label and logged.
   */
  destination: string;
  /** The call's deadline; the work is handed a signal that aborts at it. */
  timeoutMs: number;
  /** Only a call that may be repeated without effect (a read, a write carrying its own idempotency key) is retried. */
  idempotent: boolean;
  /**
   * Whether a failure says the destination is down (no connection, timeout, its 5xx or 429): only those count
   * towards opening the breaker and are retried. A refusal of the request itself (a 4xx) is the caller's answer.
   */
  isOutage?: (error: unknown) => boolean;
}

export type BreakerState = 'closed' | 'open' | 'half_open';

/** The destination's breaker is open: no request was sent; `retryAfterSeconds` is when a probe may go. */
export class CircuitOpenError extends Error {
  constructor(
    readonly destination: string,
    readonly retryAfterSeconds: number,
  ) {
    super(`${destination} is unavailable (circuit open)`);
    this.name = 'CircuitOpenError';
  }
}

/** The call ran out of its deadline. */
export class OutboundTimeoutError extends Error {
  constructor(
    readonly destination: string,
    timeoutMs: number,
  ) {
    super(`${destination} did not answer within ${timeoutMs} ms`);
    this.name = 'OutboundTimeoutError';
  }
}

type Outcome = 'success' | 'failure' | 'timeout' | 'rejected' | 'refused';

interface Destination {
  breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  openedAt: number;
  calls: Record<Outcome, number>;
  retries: number;
}

const defaultIsOutage = (): boolean => true;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const OUTCOMES: readonly Outcome[] = ['success', 'failure', 'timeout', 'rejected', 'refused'];

/**
 * The one resilience policy of every call this service makes to another (supplier, Stripe, SMTP,
 * webhooks, Slack), on opossum: a deadline per call, a circuit breaker per destination (it opens once at
 * least `breakerVolume` calls in a 10 s window failed and half of them did; while open, calls fail at once
 * without reaching the destination; after `breakerResetMs` one probe goes through: its success closes it,
 * its failure reopens it), and retries with full-jitter exponential backoff for idempotent calls only.
 * State and counts feed `/metrics` and the admin dashboard; state changes are logged as JSON naming the
 * destination, never a URL's credentials, a header or a body.
 */
export class OutboundCalls {
  private readonly destinations = new Map<string, Destination>();
  private readonly logger: Logger;

  constructor(
    private readonly policy: AppConfig['outbound'],
    logger?: Logger,
  ) {
    this.logger = logger ?? createLogger('info').child({ component: 'outbound' });
  }

  async call<T>(call: OutboundCall, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const destination = this.destinationOf(call);
    const isOutage = call.isOutage ?? defaultIsOutage;
    const attempts = call.idempotent ? this.policy.retries + 1 : 1;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const result = (await destination.breaker.fire(() => this.withDeadline(call, work))) as T;
        destination.calls.success += 1;
        return result;
      } catch (error) {
        if (isBreakerRefusal(error)) throw this.openError(call.destination, destination);
        // opossum counts a refusal (errorFilter) as a success of the destination; here it is told apart.
        if (!(error instanceof OutboundTimeoutError) && !isOutage(error)) destination.calls.refused += 1;
        const retryable = attempt < attempts && (error instanceof OutboundTimeoutError || isOutage(error));
        if (!retryable) throw error;
        destination.retries += 1;
        // Full jitter: a crowd of callers retrying after one outage spreads out instead of returning together.
        await sleep(Math.random() * this.policy.retryBaseMs * 2 ** (attempt - 1));
      }
    }
  }

  /** Every destination called so far, its breaker's state and its counts since the process started. */
  snapshot(): Array<{ destination: string; state: BreakerState; calls: Record<Outcome, number>; retries: number }> {
    return [...this.destinations.entries()].map(([name, destination]) => ({
      destination: name,
      state: stateOf(destination.breaker),
      calls: { ...destination.calls },
      retries: destination.retries,
    }));
  }

  stateOf(destination: string): BreakerState {
    const known = this.destinations.get(destination);
    return known ? stateOf(known.breaker) : 'closed';
  }

  /** Seconds until an open breaker lets a probe through (at least 1): when to come back rather than call now. */
  retryAfterSeconds(destination: string): number {
    const known = this.destinations.get(destination);
    return known ? this.openError(destination, known).retryAfterSeconds : 1;
  }

  private openError(name: string, destination: Destination): CircuitOpenError {
    const remainingMs = destination.openedAt + this.policy.breakerResetMs - Date.now();
    return new CircuitOpenError(name, Math.max(1, Math.ceil(remainingMs / 1000)));
  }

  private async withDeadline<T>(call: OutboundCall, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new OutboundTimeoutError(call.destination, call.timeoutMs));
      }, call.timeoutMs);
    });
    try {
      return await Promise.race([work(controller.signal), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private destinationOf(call: OutboundCall): Destination {
    const known = this.destinations.get(call.destination);
    if (known) return known;
    const isOutage = call.isOutage ?? defaultIsOutage;
    const breaker = new CircuitBreaker((work: () => Promise<unknown>) => work(), {
      // The deadline is ours (withDeadline), so the work is aborted rather than left running.
      timeout: false,
      resetTimeout: this.policy.breakerResetMs,
      volumeThreshold: this.policy.breakerVolume,
      errorThresholdPercentage: 50,
      rollingCountTimeout: 10_000,
      // A refusal of the request is no sign the destination is down.
      errorFilter: (error: unknown) => !(error instanceof OutboundTimeoutError) && !isOutage(error),
    });
    const destination: Destination = { breaker, openedAt: 0, calls: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>, retries: 0 };
    const log = (message: string, extra: Record<string, unknown> = {}) => this.logger.warn(message, { destination: call.destination, ...extra });
    breaker.on('failure', (error: unknown) => {
      destination.calls[error instanceof OutboundTimeoutError ? 'timeout' : 'failure'] += 1;
      log('outbound call failed', { error: describe(error) });
    });
    breaker.on('reject', () => (destination.calls.rejected += 1));
    breaker.on('open', () => {
      destination.openedAt = Date.now();
      log('circuit opened', { retryAfterMs: this.policy.breakerResetMs });
    });
    breaker.on('halfOpen', () => log('circuit half-open: one probe goes through'));
    breaker.on('close', () => log('circuit closed'));
    this.destinations.set(call.destination, destination);
    return destination;
  }
}

const isBreakerRefusal = (error: unknown): boolean => (error as { code?: string } | null)?.code === 'EOPENBREAKER';

const stateOf = (breaker: CircuitBreaker): BreakerState => (breaker.opened ? 'open' : breaker.halfOpen ? 'half_open' : 'closed');

/** An error as a log line may show it: its class and code, never its message (which may quote a body or URL). */
const describe = (error: unknown): Record<string, unknown> => ({
  name: error instanceof Error ? error.name : typeof error,
  code: (error as { code?: unknown } | null)?.code,
  status: (error as { status?: unknown; statusCode?: unknown } | null)?.status ?? (error as { statusCode?: unknown } | null)?.statusCode,
});

const registries = new WeakMap<object, OutboundCalls>();

/** The process's one set of breakers for this configuration (the API and the worker each have theirs). */
export function outboundCallsOf(config: AppConfig): OutboundCalls {
  let calls = registries.get(config.outbound);
  if (!calls) {
    calls = new OutboundCalls(config.outbound, createLogger(config.log.level).child({ component: 'outbound' }));
    registries.set(config.outbound, calls);
  }
  return calls;
}
