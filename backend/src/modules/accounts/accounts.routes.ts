import { RouteDefinition } from '../../http/route';
import { recordRoutes } from '../crm/record.routes';
import { recordsService } from '../crm/records.service';
import { accountsResource } from './accounts.resource';

export const accountsRoutes = (): RouteDefinition[] => recordRoutes(accountsResource, recordsService(accountsResource));
