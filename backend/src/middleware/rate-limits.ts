import { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, Options, rateLimit, RateLimitRequestHandler } from 'express-rate-limit';
import client from 'prom-client';
import { AppConfig } from '../config/app-config';
import { Logger } from '../infra/logger';
import { Metrics } from '../infra/metrics';
import { redisRateLimitStore } from '../infra/rate-limit-store';
import { AppError } from '../lib/errors';
import { TenantPrincipal } from '../modules/auth/principal';
import { environmentSettings, RuntimeSettings } from '../modules/runtime-settings/runtime-settings';
import { RedisClient } from '../infra/redis';

export interface RateLimitDeps {
  config: AppConfig;
  redis?: RedisClient;
  logger: Logger;
  metrics: Metrics;
}

export interface RateLimiters {
  /**
   * Stage 5 of public routes and of unknown paths: anonymous traffic per client IP, whatever headers the
   * request carries (nothing there is checked, so a made-up bearer token must not lift the budget).
   */
  anonymous: RequestHandler;
  /**
   * Stage 5 of routes that authenticate: the same IP budget, skipped for a request carrying credentials
   * because authentication (stage 7) charges the budget when they fail.
   */
  beforeAuthentication: RequestHandler;
  /** Stage 5 of sign-in routes, instead: the same IP budget (but failing closed) and, for login, IP + account. */
  auth: RequestHandler;
  /** Charges a failed authentication to the same IP budget as anonymous traffic. */
  failedAuthentication: RequestHandler;
  login: RequestHandler;
  /** Registrations per client IP (RATE_LIMIT_SIGNUP_*), failing closed like sign-in. */
  signup: RequestHandler;
  /** Stage 10: per user or API key, by the tenant's plan, once the caller is known. */
  principal: RateLimitRequestHandler;
}

const OPERATIONAL = new Set(['/live', '/ready', '/health', '/metrics']);
const clientIp = (req: Request) => ipKeyGenerator(req.ip ?? '');
const hasCredentials = (req: Request) => req.get('authorization') !== undefined || req.get('x-api-key') !== undefined;

/**
 * The account a sign-in names, as validation will read it (trimmed, lowercased): ` root@x`, `root@x ` and
 * `ROOT@x` are one account and so one budget.
 */
export const loginAccountKey = (email: unknown): string => (typeof email === 'string' ? email.trim().toLowerCase().slice(0, 254) : '');

/** Past this share of a caller's hourly budget, GET /rate-limit warns and the tenant's admins are told once per window. */
export const WARNING_SHARE = 0.8;

export const pastWarning = (used: number, limit: number): boolean => used > limit * WARNING_SHARE;

export const principalKey = (principal: TenantPrincipal): string =>
  principal.kind === 'user' ? `user:${principal.userId}` : `api_key:${principal.apiKeyId}`;

/**
 * express-rate-limit with IETF draft-8 headers (RateLimit-Policy, RateLimit) and Retry-After on 429.
 * With REDIS_URL every instance shares the counters; without it each process counts alone.
 * While Redis is away, general limits let traffic through (counted in rate_limit_store_errors_total)
 * and sign-in limits refuse it with 503, unless RATE_LIMIT_AUTH_FAIL_OPEN says otherwise.
 */
export function createRateLimiters(
  deps: RateLimitDeps,
  /** The effective settings (runtime overrides, else the environment), read on every request from memory. */
  settings: () => RuntimeSettings = () => environmentSettings(deps.config),
): RateLimiters {
  const { authFailOpen } = deps.config.rateLimits;
  const storeErrors = new client.Counter({
    name: 'rate_limit_store_errors_total',
    help: 'Rate-limit checks that could not reach the store',
    registers: [deps.metrics.registry],
  });
  const base = (prefix: string): Partial<Options> => ({
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    ...(deps.redis ? { store: redisRateLimitStore(deps.redis, deps.config.redisKeyPrefix, prefix) } : {}),
    logger: {
      error: (error: unknown, message?: string) => {
        storeErrors.inc();
        deps.logger.warn(message ?? 'rate-limit store error', { error });
      },
      warn: (warning: unknown) => deps.logger.warn('rate limiter', { detail: String(warning) }),
    },
    handler: (_req: Request, _res: Response, next) =>
      next(new AppError('RATE_LIMITED', 'Too many requests: retry after the number of seconds in Retry-After')),
  });

  // Three links share one per-IP counter (same store prefix): they differ in what they skip and in
  // whether a Redis outage lets the request through.
  const ipBudget = (options: Partial<Options>) =>
    followingWindow(
      () => settings().rateLimitAnonymousWindowSeconds,
      (windowMs, lateBuild) =>
        rateLimit({
          ...base('ip'),
          ...lateBuilt(lateBuild),
          windowMs,
          limit: () => settings().rateLimitAnonymousMax,
          identifier: 'anonymous',
          keyGenerator: clientIp,
          ...options,
        }),
    );

  return {
    anonymous: ipBudget({
      skip: (req) => OPERATIONAL.has(req.path),
      passOnStoreError: true,
    }),
    beforeAuthentication: ipBudget({
      skip: (req) => hasCredentials(req),
      passOnStoreError: true,
    }),
    auth: ipBudget({ passOnStoreError: authFailOpen }),
    failedAuthentication: ipBudget({ passOnStoreError: true }),
    login: followingWindow(
      () => settings().rateLimitLoginWindowSeconds,
      (windowMs, lateBuild) =>
        rateLimit({
          ...base('login'),
          ...lateBuilt(lateBuild),
          windowMs,
          limit: () => settings().rateLimitLoginMax,
          identifier: 'login',
          keyGenerator: (req) => `${clientIp(req)}:${loginAccountKey((req.body as { email?: unknown })?.email)}`,
          passOnStoreError: authFailOpen,
        }),
    ),
    signup: rateLimit({
      ...base('signup'),
      windowMs: deps.config.rateLimits.signup.windowSeconds * 1000,
      limit: deps.config.rateLimits.signup.max,
      identifier: 'signup',
      keyGenerator: clientIp,
      passOnStoreError: authFailOpen,
    }),
    principal: rateLimit({
      ...base('principal'),
      windowMs: 3600 * 1000,
      limit: (_req, res) => (res.locals.principal as TenantPrincipal).plan.requestsPerHour,
      identifier: (_req, res) => `plan-${(res.locals.principal as TenantPrincipal).plan.code}`,
      keyGenerator: (_req, res) => principalKey(res.locals.principal as TenantPrincipal),
      passOnStoreError: true,
    }),
  };
}

/** A limiter built during a request on purpose (a new window): express-rate-limit would otherwise warn. */
const lateBuilt = (late: boolean): Partial<Options> => (late ? { validate: { creationStack: false } } : {});

/**
 * express-rate-limit fixes its window when it is created, while the limit can be read per request: a
 * window changed at run time gets a limiter of its own, built on first use (counters restart; in Redis
 * a key already counting keeps its expiry, so the new window applies from each client's next window).
 */
function followingWindow(windowSeconds: () => number, build: (windowMs: number, lateBuild: boolean) => RequestHandler): RequestHandler {
  const limiters = new Map<number, RequestHandler>();
  const initialMs = windowSeconds() * 1000;
  limiters.set(initialMs, build(initialMs, false));
  return (req, res, next) => {
    const windowMs = windowSeconds() * 1000;
    let limiter = limiters.get(windowMs);
    if (!limiter) limiters.set(windowMs, (limiter = build(windowMs, true)));
    return limiter(req, res, next);
  };
}
