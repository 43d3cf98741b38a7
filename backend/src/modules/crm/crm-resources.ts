import { accountsResource } from '../accounts/accounts.resource';
import { activitiesResource } from '../activities/activities.resource';
import { contactsResource } from '../contacts/contacts.resource';
import { dealsResource } from '../deals/deals.resource';
import { leadsResource } from '../leads/leads.resource';
import { tasksResource } from '../tasks/tasks.resource';
import { ticketsResource } from '../tickets/tickets.resource';
import { CrmResource, ResourceDefinition } from './resource-definition';

/** Every CRM resource by its name, for what serves them all from one route (undoing an import). */
export const CRM_RESOURCE_DEFINITIONS: ReadonlyMap<string, ResourceDefinition> = new Map(
  [leadsResource, contactsResource, accountsResource, dealsResource, tasksResource, activitiesResource, ticketsResource].map((def) => [def.name, def]),
);

const BY_SINGULAR = new Map([...CRM_RESOURCE_DEFINITIONS.values()].map((def) => [def.singular, def]));

/** The declaration of a resource by its singular name (`lead`), as domain events name it. */
export function definitionOf(resource: CrmResource): ResourceDefinition {
  const def = BY_SINGULAR.get(resource);
  if (!def) throw new Error(`No CRM resource is declared as "${resource}"`);
  return def;
}
