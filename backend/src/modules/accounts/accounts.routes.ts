import { RouteDefinition } from '../../http/route';
import { recordRoutes } from '../crm/record.routes';
import { createRecordsService } from '../crm/records.service';
import { mergeRoutes } from '../merges/merges.routes';
import { mergeable } from '../merges/merges.service';
import { accountsResource } from './accounts.resource';

export const accountsRoutes = (): RouteDefinition[] => [...mergeRoutes(mergeable(accountsResource)), ...recordRoutes(accountsResource, createRecordsService(accountsResource))];
