import { CRM_RESOURCES } from '../crm/resource-definition';

/** The singular name of every CRM resource (`lead`, `deal`, ...), and parts orders. */
export const EVENT_RESOURCES: readonly string[] = [...CRM_RESOURCES, 'parts_order'];

const MERGEABLE_RESOURCES = ['lead', 'contact', 'account'] as const;

const ACTIONS = ['created', 'updated', 'deleted'] as const;

/** Every event type a subscription can name; `ping` is sent only by the test endpoint, to one subscription. */
export const EVENT_TYPES: readonly string[] = [
  ...CRM_RESOURCES.flatMap((resource) => ACTIONS.map((action) => `${resource}.${action}`)),
  'lead.converted',
  'deal.stage_changed',
  // Duplicates merged into the record: `data.object` is the survivor, `previousAttributes` its fields before.
  ...MERGEABLE_RESOURCES.map((resource) => `${resource}.merged`),
  'parts_order.created',
  'parts_order.status_changed',
];

/** `*`, `<resource>.*` or an exact event type. */
export function isValidPattern(pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return EVENT_RESOURCES.includes(pattern.slice(0, -2));
  return EVENT_TYPES.includes(pattern);
}

export function matchesAny(patterns: readonly string[], type: string): boolean {
  return patterns.some((pattern) => pattern === '*' || pattern === type || (pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1))));
}
