import Joi from 'joi';
import { AppDeps } from '../../app-deps';
import { AnyRouteInput, defineRoute, ok, principalOf, RouteDefinition } from '../../http/route';
import { ConsoleRuntime } from '../admin/console-runtime';
import { PlatformActor } from '../admin/platform-audit';
import { featureFlagSchema, flagKeyParams, putFlagBody } from './feature-flags.schema';
import { createFeatureFlagsService } from './feature-flags.service';

const actorOf = (input: AnyRouteInput): PlatformActor => ({
  principal: principalOf(input, 'platform_admin'),
  ip: input.ip,
  userAgent: input.userAgent,
  requestId: input.requestId,
});

/** Staff roll features out: a route that declares `flag` answers 404 to every tenant the flag is off for. */
export function featureFlagsRoutes(deps: AppDeps, runtime: ConsoleRuntime): RouteDefinition[] {
  const tags = ['Platform admin'];
  const flags = createFeatureFlagsService({ platformKnex: deps.platformKnex, scope: deps.config.redisKeyPrefix, flags: runtime.flags });
  return [
    defineRoute({
      method: 'get',
      path: '/admin/feature-flags',
      permission: 'platform:config:read',
      summary: "The deployment's feature flags, by key",
      response: { status: 200, description: 'Every flag', schema: Joi.array().items(featureFlagSchema) },
      tags,
      handler: async () => ok(await flags.list()),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/feature-flags/:key',
      permission: 'platform:config:read',
      summary: 'One feature flag and its targeting',
      response: { status: 200, description: 'The flag', schema: featureFlagSchema },
      tags,
      schema: { params: flagKeyParams },
      handler: async (input) => ok(await flags.get(input.params.key)),
    }),
    defineRoute({
      method: 'put',
      path: '/admin/feature-flags/:key',
      permission: 'platform:config:manage',
      summary: 'Creates or replaces a feature flag: on or off, and for which tenants, plans and percentage of tenants',
      description:
        'A listed tenant always has an enabled flag. Otherwise, with `plans` and/or `percentage`, a tenant of a listed plan (any plan ' +
        'when null) has it when its stable bucket (a hash of flag key and tenant id, 0..99) is under the percentage; with neither, ' +
        'an enabled flag is on for every tenant, or only for the listed ones when `tenants` is not empty. Audited in the platform ' +
        'audit log; this instance applies it at once, every other within RUNTIME_SETTINGS_CACHE_SECONDS.',
      response: { status: 200, description: 'The flag as it now stands', schema: featureFlagSchema },
      tags,
      schema: { params: flagKeyParams, body: putFlagBody },
      handler: async (input) => ok(await flags.put(input.params.key, input.body, actorOf(input))),
    }),
  ];
}
