import { RouteDefinition } from '../../http/route';
import { recordRoutes } from '../crm/record.routes';
import { recordsService } from '../crm/records.service';
import { contactsResource } from './contacts.resource';

export const contactsRoutes = (): RouteDefinition[] => recordRoutes(contactsResource, recordsService(contactsResource));
