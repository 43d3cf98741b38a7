import Joi from 'joi';
import { defineRoute, ok, principalOf, RouteDefinition } from '../../http/route';
import { accountsResource } from '../accounts/accounts.resource';
import { createBodySchema, recordRoutes } from '../crm/record.routes';
import { createRecordsService } from '../crm/records.service';
import { mergeRoutes } from '../merges/merges.routes';
import { mergeable } from '../merges/merges.service';
import { dealsResource } from '../deals/deals.resource';
import { leadsResource } from './leads.resource';
import { convertLead, ConvertLeadInput } from './leads.service';

const convertBody = Joi.object<ConvertLeadInput>({
  accountId: Joi.string().uuid(),
  account: Joi.object(accountsResource.fields),
  contactId: Joi.string().uuid(),
  deal: createBodySchema(dealsResource).fork(['accountId', 'contactId'], (schema) => schema.forbidden()),
}).oxor('accountId', 'account');

export function leadsRoutes(): RouteDefinition[] {
  return [
    defineRoute({
      method: 'post',
      path: '/leads/:id/convert',
      auditResource: 'lead',
      permission: 'leads:write',
      summary: 'Convert a lead into an account, a contact and optionally a deal, in one transaction',
      response: { status: 200, description: 'The account, the contact, the deal (if any) and the converted lead' },
      tags: ['Leads'],
      schema: { params: Joi.object<{ id: string }>({ id: Joi.string().uuid().required() }), body: convertBody },
      handler: async (input) => ok(await convertLead(principalOf(input, 'user', 'api_key'), input.params.id, input.body)),
    }),
    ...mergeRoutes(mergeable(leadsResource)),
    ...recordRoutes(leadsResource, createRecordsService(leadsResource)),
  ];
}
