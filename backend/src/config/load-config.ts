import { jwtSecretKeys } from '../lib/jwt-keys';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AppConfig } from './app-config';
import { envSchema } from './env.schema';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** The build an error report names unless SENTRY_RELEASE says otherwise (same depth from src/ and dist/). */
const DEFAULT_RELEASE = (() => {
  const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { name: string; version: string };
  return `${manifest.name}@${manifest.version}`;
})();

/** Validates the environment once; every part of the app reads the returned object, never process.env. */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const { value, error } = envSchema.validate(present, { abortEarly: false, allowUnknown: true, convert: true });
  if (error) throw new ConfigError(error.details.map((d) => d.message));

  const jwtSecret: string = value.JWT_SECRET ?? randomBytes(48).toString('base64url');
  const encryptionKey = value.ENCRYPTION_KEY
    ? Buffer.from(value.ENCRYPTION_KEY, 'base64')
    : // Derived (development only) from the oldest JWT key, so putting a new key first does not change it.
      createHash('sha256').update(`encryption-key:${jwtSecretKeys(jwtSecret).at(-1)!}`).digest();
  const trustProxy = value.TRUST_PROXY === 'true' ? true : value.TRUST_PROXY === 'false' ? false : value.TRUST_PROXY;
  return {
    env: value.NODE_ENV,
    http: {
      host: value.HOST,
      port: value.PORT,
      bodyLimit: value.BODY_LIMIT,
      corsOrigins: value.CORS_ORIGINS.split(',')
        .map((origin: string) => origin.trim())
        .filter(Boolean),
      trustProxy,
      shutdownTimeoutMs: value.SHUTDOWN_TIMEOUT_MS,
    },
    db: {
      adminUrl: value.DATABASE_URL,
      appUrl: value.APP_DATABASE_URL,
      platformUrl: value.PLATFORM_DATABASE_URL,
      jobsUrl: value.JOBS_DATABASE_URL,
      poolMax: value.DB_POOL_MAX,
      statementTimeoutMs: value.DB_STATEMENT_TIMEOUT_MS,
      connectTimeoutMs: value.DB_CONNECT_TIMEOUT_MS,
      embedded: { dir: value.EMBEDDED_PG_DIR, port: value.EMBEDDED_PG_PORT },
    },
    redisUrl: value.REDIS_URL,
    redisCluster: value.REDIS_CLUSTER_NODES ? { nodes: value.REDIS_CLUSTER_NODES, password: value.REDIS_CLUSTER_PASSWORD } : undefined,
    redisKeyPrefix: value.REDIS_KEY_PREFIX,
    jwt: {
      secret: jwtSecret,
      secretGenerated: value.JWT_SECRET === undefined,
      issuer: value.JWT_ISSUER,
      accessTtlSeconds: value.ACCESS_TOKEN_TTL_SECONDS,
      refreshTtlSeconds: value.REFRESH_TOKEN_TTL_SECONDS,
    },
    auth: {
      bcryptCost: value.BCRYPT_COST,
      lockoutThreshold: value.LOGIN_LOCKOUT_THRESHOLD,
      lockoutSeconds: value.LOGIN_LOCKOUT_SECONDS,
      inviteTtlSeconds: value.INVITE_TTL_SECONDS,
      tenantBaseDomain: value.TENANT_BASE_DOMAIN?.toLowerCase(),
      superAdmin: value.SUPER_ADMIN_EMAIL
        ? { email: value.SUPER_ADMIN_EMAIL, password: value.SUPER_ADMIN_PASSWORD }
        : undefined,
      adminMfaRequired: value.ADMIN_MFA_REQUIRED,
      sessionRetentionDays: value.SESSION_RETENTION_DAYS,
      principalCacheSeconds: value.PRINCIPAL_CACHE_SECONDS,
    },
    rateLimits: {
      anonymous: { max: value.RATE_LIMIT_ANONYMOUS_MAX, windowSeconds: value.RATE_LIMIT_ANONYMOUS_WINDOW_SECONDS },
      login: { max: value.RATE_LIMIT_LOGIN_MAX, windowSeconds: value.RATE_LIMIT_LOGIN_WINDOW_SECONDS },
      signup: { max: value.RATE_LIMIT_SIGNUP_MAX, windowSeconds: value.RATE_LIMIT_SIGNUP_WINDOW_SECONDS },
      authFailOpen: value.RATE_LIMIT_AUTH_FAIL_OPEN,
    },
    idempotency: { ttlSeconds: value.IDEMPOTENCY_TTL_SECONDS },
    transfers: {
      downloadsPerTenant: value.DOWNLOADS_PER_TENANT,
      downloadStallMs: value.DOWNLOAD_STALL_SECONDS * 1000,
      importsPerTenant: value.IMPORTS_PER_TENANT,
      liveEventsHeartbeatMs: value.LIVE_EVENTS_HEARTBEAT_SECONDS * 1000,
    },
    audit: { retentionDays: value.AUDIT_RETENTION_DAYS, sealWarnSeconds: value.AUDIT_SEAL_WARN_SECONDS },
    compliance: { exportTtlDays: value.DATA_EXPORT_TTL_DAYS, deletionGraceDays: value.ORG_DELETION_GRACE_DAYS, subjectReportMaxRows: value.SUBJECT_REPORT_MAX_ROWS },
    reports: { statementTimeoutMs: value.REPORT_STATEMENT_TIMEOUT_MS },
    console: {
      settingsCacheSeconds: value.RUNTIME_SETTINGS_CACHE_SECONDS,
      usageFlushSeconds: value.USAGE_FLUSH_SECONDS,
      impersonationTtlSeconds: value.IMPERSONATION_TTL_SECONDS,
    },
    security: {
      alertDedupSeconds: value.SECURITY_ALERT_DEDUP_SECONDS,
      exportsPerHour: value.SECURITY_EXPORTS_PER_HOUR,
      exportRows: value.SECURITY_EXPORT_ROWS,
      signinWindowSeconds: value.SECURITY_SIGNIN_WINDOW_SECONDS,
      signinAccountsPerIp: value.SECURITY_SIGNIN_ACCOUNTS_PER_IP,
      signinIpsPerAccount: value.SECURITY_SIGNIN_IPS_PER_ACCOUNT,
      alertWebhookUrl: value.SECURITY_ALERT_WEBHOOK_URL,
      staffAlertSeverity: value.SECURITY_STAFF_ALERT_SEVERITY,
      signinDelayMs: value.SECURITY_SIGNIN_DELAY_MS,
      signinDelaySeconds: value.SECURITY_SIGNIN_DELAY_SECONDS,
      walkRefusals: value.SECURITY_WALK_REFUSALS,
      walkWindowSeconds: value.SECURITY_WALK_WINDOW_SECONDS,
      keyThrottleSeconds: value.SECURITY_KEY_THROTTLE_SECONDS,
    },
    support: {
      slaHoursByPlan: Object.fromEntries(
        (value.SUPPORT_SLA_HOURS as string).split(',').map((pair) => {
          const [plan, hours] = pair.split(':') as [string, string];
          return [plan, Number(hours)];
        }),
      ),
    },
    jobs: { inProcess: value.JOBS_IN_PROCESS, concurrency: value.JOBS_CONCURRENCY, workerPort: value.WORKER_PORT },
    encryptionKey,
    encryptionKeyDerived: value.ENCRYPTION_KEY === undefined,
    log: { level: value.LOG_LEVEL },
    metricsToken: value.METRICS_TOKEN,
    credentialKeys: credentialKeys(value.CREDENTIALS_KEYS, encryptionKey),
    webhooks: { allowPrivateNetworks: value.WEBHOOK_ALLOW_PRIVATE_NETWORKS },
    email: { transport: value.EMAIL_TRANSPORT, smtpUrl: value.SMTP_URL, from: value.EMAIL_FROM },
    billing: {
      trialDays: value.TRIAL_DAYS,
      returnUrl: value.BILLING_RETURN_URL,
      stripe: value.STRIPE_SECRET_KEY
        ? {
            secretKey: value.STRIPE_SECRET_KEY,
            webhookSecret: value.STRIPE_WEBHOOK_SECRET,
            apiUrl: value.STRIPE_API_URL,
            timeoutMs: value.STRIPE_TIMEOUT_MS,
          }
        : undefined,
    },
    outbound: {
      breakerVolume: value.OUTBOUND_BREAKER_VOLUME,
      breakerResetMs: value.OUTBOUND_BREAKER_RESET_MS,
      retries: value.OUTBOUND_RETRIES,
      retryBaseMs: value.OUTBOUND_RETRY_BASE_MS,
    },
    parts: {
      supplierTimeoutMs: value.SUPPLIER_TIMEOUT_MS,
      orderPollSeconds: value.PARTS_ORDER_POLL_SECONDS,
    },
    errorTracking: value.SENTRY_DSN ? { dsn: value.SENTRY_DSN, release: value.SENTRY_RELEASE ?? DEFAULT_RELEASE, environment: value.NODE_ENV } : undefined,
  };
}

/**
 * CREDENTIALS_KEYS (`kid:base64,...`, current first), or one key derived from the encryption key
 * (ENCRYPTION_KEY is itself required in production), so a deployment works before it ever rotates.
 */
function credentialKeys(setting: string | undefined, encryptionKey: Buffer): Array<{ id: string; key: Buffer }> {
  if (!setting) return [{ id: 'k0', key: createHash('sha256').update('credentials:').update(encryptionKey).digest() }];
  const keys = setting.split(',').map((pair) => {
    const [id, key] = pair.split(':') as [string, string];
    return { id, key: Buffer.from(key, 'base64') };
  });
  if (new Set(keys.map((key) => key.id)).size !== keys.length) throw new ConfigError(['"CREDENTIALS_KEYS" names a key id twice']);
  return keys;
}

/** For entry points: a bad environment stops the process with a message naming each variable. */
export function loadConfigOrExit(env: Record<string, string | undefined>): AppConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
