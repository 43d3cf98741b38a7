import { AppConfig } from '../../config/app-config';
import { RedisClient } from '../../infra/redis';
import { createSecurityHolds, SecurityHolds } from './security-holds';

export interface SecurityContext {
  config: AppConfig;
  holds: SecurityHolds;
}

type Deps = { config: AppConfig; redis?: RedisClient };

const holdsByApp = new WeakMap<Deps, SecurityHolds>();

/** The app's own holds (its Redis and key prefix): what the request pipeline uses. */
export function securityHoldsOf(deps: Deps): SecurityHolds {
  let holds = holdsByApp.get(deps);
  if (!holds) {
    holds = createSecurityHolds(deps.redis, deps.config.redisKeyPrefix);
    holdsByApp.set(deps, holds);
  }
  return holds;
}

/**
 * Set by createApp, as the audit key is: the sign-in detectors run inside audit writers and the sign-in
 * flow, far from the app's dependencies (one app per process in production; in tests, the last built).
 */
let context: SecurityContext | undefined;

export function useSecurity(deps: Deps): SecurityContext {
  context = { config: deps.config, holds: securityHoldsOf(deps) };
  return context;
}

export const maybeSecurityContext = (): SecurityContext | undefined => context;

export function securityContext(): SecurityContext {
  if (!context) throw new Error('useSecurity was not called: the app sets it up in createApp');
  return context;
}
