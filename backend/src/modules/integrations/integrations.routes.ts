import Joi from 'joi';
import { AppDeps } from '../../app-deps';
import { created, defineRoute, noContent, ok, page, principalOf, RouteDefinition } from '../../http/route';
import { Page, creationPageQuery } from '../../lib/pagination';
import { actorId } from '../auth/principal';
import { INTEGRATION_TYPES } from './integration-types';
import { IntegrationChanges, IntegrationDraft, createIntegrationsService } from './integrations.service';

/** Integrations are organization settings: tenant admins (organization:manage) manage them. */
const PERMISSION = 'organization:manage';

const params = Joi.object<{ id: string }>({ id: Joi.string().uuid().required() });
const configDescription = 'Per type: slack_notification {webhookUrl*, channel, events: deal.won|deal.lost|ticket.urgent}; custom_webhook {url, secret*, events}; stripe_payment {apiKey*, webhookSecret*}; capricorn_edi {apiKey*, customerId, baseUrl (none: the built-in supplier simulator)}. * = secret: stored encrypted, answered masked.';
const createBody = Joi.object<IntegrationDraft>({
  type: Joi.string().valid(...INTEGRATION_TYPES).required(),
  name: Joi.string().trim().min(1).max(100).required(),
  active: Joi.boolean().default(true),
  config: Joi.object().unknown(true).required().description(configDescription),
});
const updateBody = Joi.object<IntegrationChanges>({
  name: Joi.string().trim().min(1).max(100),
  active: Joi.boolean(),
  config: Joi.object().unknown(true).min(1).description(`Merged into the stored configuration. ${configDescription}`),
}).min(1);

const integrationSchema = Joi.object({
  id: Joi.string().uuid().required(),
  type: Joi.string().valid(...INTEGRATION_TYPES).required(),
  name: Joi.string().required(),
  active: Joi.boolean().required(),
  config: Joi.object().unknown(true).required().description('Secret fields appear masked: "••••" and at most their last 4 characters'),
  disabledReason: Joi.string().allow(null).required(),
  createdAt: Joi.date().required(),
  updatedAt: Joi.date().required(),
});

export function integrationsRoutes(deps: AppDeps): RouteDefinition[] {
  const service = createIntegrationsService(deps.config);
  const tags = ['Integrations'];
  return [
    defineRoute({
      method: 'get',
      path: '/integrations',
      permission: PERMISSION,
      summary: "The tenant's integrations, oldest first, keyset-paged; secrets masked",
      tags,
      schema: { query: Joi.object<Page>(creationPageQuery) },
      response: { status: 200, description: 'A page of integrations', schema: integrationSchema },
      handler: async (input) => {
        const { rows, pagination } = await service.list(input.query);
        return page(rows, pagination);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/integrations',
      auditResource: 'integration',
      permission: PERMISSION,
      summary: 'Add an integration; its secrets are encrypted at rest and never answered again',
      tags,
      schema: { body: createBody },
      response: { status: 201, description: 'The integration, secrets masked', schema: integrationSchema },
      handler: async (input) => created(await service.create(input.body, actorId(principalOf(input)))),
    }),
    defineRoute({
      method: 'get',
      path: '/integrations/:id',
      permission: PERMISSION,
      summary: 'One integration, secrets masked',
      tags,
      schema: { params },
      response: { status: 200, description: 'The integration', schema: integrationSchema },
      handler: async (input) => ok(await service.get(input.params.id)),
    }),
    defineRoute({
      method: 'patch',
      path: '/integrations/:id',
      auditResource: 'integration',
      permission: PERMISSION,
      summary: 'Rename, turn on or off, or change the configuration (a secret left out keeps its value)',
      tags,
      schema: { params, body: updateBody },
      response: { status: 200, description: 'The integration', schema: integrationSchema },
      handler: async (input) => ok(await service.update(input.params.id, input.body, actorId(principalOf(input)))),
    }),
    defineRoute({
      method: 'delete',
      path: '/integrations/:id',
      auditResource: 'integration',
      permission: PERMISSION,
      summary: 'Delete an integration and its secrets',
      tags,
      schema: { params },
      handler: async (input) => {
        await service.remove(input.params.id);
        return noContent();
      },
    }),
  ];
}
