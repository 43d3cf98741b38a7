import { defineSubscriber } from '../events/event-subscriber';
import { raiseFindings } from './security-alerts';
import { detect, WATCHED_TYPES } from './security-detectors';

/**
 * The detectors read the domain events every unit of work already publishes (no second logging path);
 * what they find is stored and alerted in the same transaction, before the audit trail extends its chain.
 */
export const securityDetectors = defineSubscriber({
  name: 'security detectors',
  types: WATCHED_TYPES,
  async handle(events, context) {
    const findings = await detect(events, context);
    if (findings.length > 0) await raiseFindings(findings, context);
  },
});
