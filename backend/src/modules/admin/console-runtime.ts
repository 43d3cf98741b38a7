import { AppDeps } from '../../app-deps';
import { FinishedRequest } from '../../middleware/request-logger';
import { RecentErrors } from '../../infra/recent-errors';
import { createFeatureFlagsCache, FeatureFlagsCache } from '../feature-flags/feature-flags-cache';
import { createRuntimeSettingsCache, RuntimeSettingsCache } from '../runtime-settings/runtime-settings';
import { UsageCounters } from '../usage/usage-counters';

/** Per-instance state the admin console reads and the request chain feeds. */
export interface ConsoleRuntime {
  settings: RuntimeSettingsCache;
  flags: FeatureFlagsCache;
  usage: UsageCounters;
  recentErrors: RecentErrors;
}

const runtimes = new WeakMap<AppDeps, ConsoleRuntime>();

/**
 * One runtime per app (its deps), made on first use: the pipeline and the console routes share
 * it, and several apps in one process (tests) never share counters. Nothing here starts a timer or a
 * query until a request arrives.
 */
export function consoleRuntime(deps: AppDeps): ConsoleRuntime {
  let runtime = runtimes.get(deps);
  if (!runtime) {
    runtime = {
      settings: createRuntimeSettingsCache(deps),
      flags: createFeatureFlagsCache(deps),
      usage: new UsageCounters({
        platformKnex: deps.platformKnex,
        redis: deps.redis,
        redisKeyPrefix: deps.config.redisKeyPrefix,
        flushSeconds: deps.config.console.usageFlushSeconds,
        logger: deps.logger,
      }),
      recentErrors: new RecentErrors(),
    };
    runtimes.set(deps, runtime);
  }
  return runtime;
}

/** The request logger's observer: counts tenant calls and keeps this instance's last 5xx answers. */
export function observeRequest(runtime: ConsoleRuntime, request: FinishedRequest): void {
  if (request.tenantId) runtime.usage.record(request.tenantId, request.status, request.at);
  if (request.status >= 500) {
    runtime.recentErrors.add({
      at: request.at.toISOString(),
      requestId: request.requestId,
      method: request.method,
      route: request.route,
      status: request.status,
      code: request.code,
      tenantId: request.tenantId,
      durationMs: request.durationMs,
    });
  }
}
