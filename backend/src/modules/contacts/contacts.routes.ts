import { RouteDefinition } from '../../http/route';
import { recordRoutes } from '../crm/record.routes';
import { recordsService } from '../crm/records.service';
import { mergeRoutes } from '../merges/merges.routes';
import { mergeable } from '../merges/merges.service';
import { contactsResource } from './contacts.resource';

export const contactsRoutes = (): RouteDefinition[] => [...mergeRoutes(mergeable(contactsResource)), ...recordRoutes(contactsResource, recordsService(contactsResource))];
