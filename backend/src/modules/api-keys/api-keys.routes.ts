import { created, defineRoute, noContent, principalOf, raw, RouteDefinition } from '../../http/route';
import { actorId } from '../auth/principal';
import { presentApiKey } from './api-key.presenter';
import { apiKeyParams, createApiKeyBody, listApiKeysQuery } from './api-keys.schema';
import { createApiKey, listApiKeys, revokeApiKey } from './api-keys.service';

export function apiKeysRoutes(): RouteDefinition[] {
  const tags = ['API keys'];
  return [
    defineRoute({
      method: 'get',
      path: '/api-keys',
      feature: 'api_keys',
      permission: 'api_keys:manage',
      summary: "The tenant's API keys, revoked ones included, oldest first, keyset-paged; never the key itself",
      description: '`permissions` is null when the key holds everything its role grants.',
      tags,
      schema: { query: listApiKeysQuery },
      handler: async (input) => {
        const page = await listApiKeys(input.query);
        return raw(200, { data: page.rows.map(presentApiKey), pagination: page.pagination });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api-keys',
      auditResource: 'api_key',
      feature: 'api_keys',
      permission: 'api_keys:manage',
      // Keys are issued by people: a leaked key must not be able to mint its own successors.
      usersOnly: true,
      summary: 'Issue an API key for a role, optionally narrowed to some of its permissions; the key is shown once',
      description: '`role` is a system role key or a custom role’s id or name; without it the key gets the caller’s role.',
      tags,
      schema: { body: createApiKeyBody },
      handler: async (input) => {
        const apiKey = await createApiKey(input.body, principalOf(input, 'user'));
        return created(apiKey, { 'Cache-Control': 'no-store' });
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api-keys/:id',
      auditResource: 'api_key',
      feature: 'api_keys',
      permission: 'api_keys:manage',
      summary: 'Revoke an API key; it stops working at once',
      tags,
      schema: { params: apiKeyParams },
      handler: async (input) => {
        await revokeApiKey(input.params.id, actorId(principalOf(input)));
        return noContent();
      },
    }),
  ];
}
