import { RouteDefinition } from '../../http/route';
import { recordRoutes } from '../crm/record.routes';
import { createRecordsService } from '../crm/records.service';
import { tasksResource } from './tasks.resource';

export const tasksRoutes = (): RouteDefinition[] => recordRoutes(tasksResource, createRecordsService(tasksResource));
