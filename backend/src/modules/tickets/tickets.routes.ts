import { RouteDefinition } from '../../http/route';
import { recordRoutes } from '../crm/record.routes';
import { createRecordsService } from '../crm/records.service';
import { ticketsResource } from './tickets.resource';

export const ticketsRoutes = (): RouteDefinition[] => recordRoutes(ticketsResource, createRecordsService(ticketsResource));
