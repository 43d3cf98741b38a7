import client from 'prom-client';

/**
 * security_events_total{type,severity}. The detectors run as domain-event subscribers, which see the
 * configuration but not the app's dependencies, so the counter is the process's own and every app's
 * registry exposes it (createMetrics registers it): one app per process in production, and tests read
 * increments, never absolute values.
 */
export const securityEventsTotal = new client.Counter({
  name: 'security_events_total',
  help: 'Security events raised by the detectors, by type and severity',
  labelNames: ['type', 'severity'] as const,
  registers: [],
});
