import { RouteDefinition } from '../../http/route';
import { recordRoutes } from '../crm/record.routes';
import { createRecordsService } from '../crm/records.service';
import { activitiesResource } from './activities.resource';

export const activitiesRoutes = (): RouteDefinition[] => recordRoutes(activitiesResource, createRecordsService(activitiesResource));
