import { accountsResource } from '../accounts/accounts.resource';
import { activitiesResource } from '../activities/activities.resource';
import { contactsResource } from '../contacts/contacts.resource';
import { dealsResource } from '../deals/deals.resource';
import { leadsResource } from '../leads/leads.resource';
import { tasksResource } from '../tasks/tasks.resource';
import { ticketsResource } from '../tickets/tickets.resource';
import { ResourceDefinition } from './resource-definition';

/** Every CRM resource by its name, for what serves them all from one route (undoing an import). */
export const CRM_RESOURCE_DEFINITIONS: ReadonlyMap<string, ResourceDefinition> = new Map(
  [leadsResource, contactsResource, accountsResource, dealsResource, tasksResource, activitiesResource, ticketsResource].map((def) => [def.name, def]),
);
