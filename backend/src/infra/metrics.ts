import { Knex } from 'knex';
import client from 'prom-client';
import { poolStats } from './db';
import { OutboundCalls } from './outbound/outbound-call';

export interface Metrics {
  registry: client.Registry;
  httpDuration: client.Histogram<'method' | 'route' | 'status_code'>;
  /** Job attempts by task and outcome: success, error (will retry), failed (out of attempts), invalid. */
  jobRuns: client.Counter<'task' | 'outcome'>;
  jobDuration: client.Histogram<'task'>;
  /** Downloads being sent, by whether they wait on their client (it has not taken the bytes already sent). */
  downloads: client.Gauge<'state'>;
  /** Support tickets first answered after their SLA's due time, by the tenant's plan. */
  supportSlaBreaches: client.Counter<'plan'>;
}

/** One registry per app instance, so several apps in one process (tests) never collide. */
export function createMetrics(knex: Knex, outbound?: OutboundCalls): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new client.Gauge({
    name: 'db_pool_connections',
    help: 'Database pool connections by state',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const stats = poolStats(knex);
      this.set({ state: 'used' }, stats.used);
      this.set({ state: 'free' }, stats.free);
      this.set({ state: 'pending' }, stats.pending);
      this.set({ state: 'max' }, stats.max);
    },
  });
  const jobRuns = new client.Counter({
    name: 'job_runs_total',
    help: 'Background job attempts by task and outcome',
    labelNames: ['task', 'outcome'] as const,
    registers: [registry],
  });
  const jobDuration = new client.Histogram({
    name: 'job_duration_seconds',
    help: 'Background job attempt duration by task',
    labelNames: ['task'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers: [registry],
  });
  const downloads = new client.Gauge({
    name: 'downloads_in_progress',
    help: 'Downloads being sent: sending (reading pages, writing) or waiting_on_client (its socket is full)',
    labelNames: ['state'] as const,
    registers: [registry],
  });
  const supportSlaBreaches = new client.Counter({
    name: 'support_sla_breaches_total',
    help: 'Support tickets whose first staff answer came after the SLA due time, by plan',
    labelNames: ['plan'] as const,
    registers: [registry],
  });
  if (outbound) registerOutboundMetrics(registry, outbound);
  downloads.set({ state: 'sending' }, 0);
  downloads.set({ state: 'waiting_on_client' }, 0);
  return { registry, httpDuration, jobRuns, jobDuration, downloads, supportSlaBreaches };
}

/**
 * One database read serving every gauge collected within a scrape (prom-client collects gauges one after
 * the other); the read answers undefined while the database cannot answer, so gauges show NaN (unknown)
 * rather than failing the whole scrape or claiming zero.
 */
export function readOncePerScrape<T>(read: () => Promise<T>): () => Promise<T | undefined> {
  let scrape: Promise<T | undefined> | undefined;
  return () => {
    scrape ??= read()
      .catch(() => undefined)
      .finally(() => setTimeout(() => (scrape = undefined), 1_000).unref());
    return scrape;
  };
}

const BREAKER_STATES = ['closed', 'half_open', 'open'] as const;

/** Each outbound destination's breaker state (1 for the state it is in) and its calls by outcome, read at scrape time. */
function registerOutboundMetrics(registry: client.Registry, outbound: OutboundCalls): void {
  new client.Gauge({
    name: 'outbound_circuit_state',
    help: 'Circuit breaker state per outbound destination: 1 for the state it is in (closed, half_open, open)',
    labelNames: ['destination', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const entry of outbound.snapshot()) {
        for (const state of BREAKER_STATES) this.set({ destination: entry.destination, state }, entry.state === state ? 1 : 0);
      }
    },
  });
  new client.Counter({
    name: 'outbound_calls_total',
    help: 'Outbound calls per destination by outcome: success, failure, timeout, refused (the request was refused), rejected (circuit open, not sent)',
    labelNames: ['destination', 'outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const entry of outbound.snapshot()) {
        for (const [outcome, count] of Object.entries(entry.calls)) this.inc({ destination: entry.destination, outcome }, count);
      }
    },
  });
  new client.Counter({
    name: 'outbound_retries_total',
    help: 'Retries of idempotent outbound calls after an outage, per destination',
    labelNames: ['destination'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const entry of outbound.snapshot()) this.inc({ destination: entry.destination }, entry.retries);
    },
  });
}
