import { AppConfig } from '../../config/app-config';
import { RedisClient } from '../../infra/redis';
import { createSecurityHolds, SecurityHolds } from './security-holds';

export interface SecurityContext {
  config: AppConfig;
  holds: SecurityHolds;
}

/**
 * Set once by createApp, as the audit key is: the sign-in detectors run inside audit writers and the
 * sign-in flow, far from the app's dependencies.
 */
let context: SecurityContext | undefined;

export function useSecurity(deps: { config: AppConfig; redis?: RedisClient }): SecurityContext {
  context = { config: deps.config, holds: createSecurityHolds(deps.redis, deps.config.redisKeyPrefix) };
  return context;
}

export const maybeSecurityContext = (): SecurityContext | undefined => context;

export function securityContext(): SecurityContext {
  if (!context) throw new Error('useSecurity was not called: the app sets it up in createApp');
  return context;
}
