import { RouteDefinition } from '../../http/route';
import { recordRoutes } from '../crm/record.routes';
import { createRecordsService } from '../crm/records.service';
import { mergeRoutes } from '../merges/merges.routes';
import { mergeable } from '../merges/merges.service';
import { contactsResource } from './contacts.resource';

export const contactsRoutes = (): RouteDefinition[] => [...mergeRoutes(mergeable(contactsResource)), ...recordRoutes(contactsResource, createRecordsService(contactsResource))];
