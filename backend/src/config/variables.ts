import Joi from 'joi';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { jwtSecretKeys } from '../lib/jwt-keys';
import { Env, group, optional, schemaOf, setting } from './declaration';

/**
 * Every environment variable the service reads, declared once: where its value lands in the config object,
 * what it means, its rules and its default. Unknown variables are ignored. README's configuration table and
 * `.env.example` name exactly these (config-docs.test.ts).
 */

const postgresUrl = Joi.string().uri({ scheme: ['postgres', 'postgresql'] });
const int = (min: number, max?: number) => (max === undefined ? Joi.number().integer().min(min) : Joi.number().integer().min(min).max(max));
const port = () => int(0, 65535);
const seconds = (value: number) => value * 1000;
const isProduction = (others: Env) => others.NODE_ENV === 'production';

/** `host:port,host:port` (IPv6 as `[::1]:7000`): seed nodes of a Redis Cluster, or undefined if one is not a node. */
function clusterNodes(text: string): Array<{ host: string; port: number }> | undefined {
  const nodes = text.split(',').map((entry) => {
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(entry.trim());
    const nodePort = Number(match?.[3]);
    return match && nodePort >= 1 && nodePort <= 65535 ? { host: (match[1] ?? match[2])!, port: nodePort } : undefined;
  });
  return nodes.every(Boolean) ? (nodes as Array<{ host: string; port: number }>) : undefined;
}

/** `plan:hours,plan:hours`, already checked by the variable's pattern. */
const hoursByPlan = (text: string): Record<string, number> =>
  Object.fromEntries(
    text.split(',').map((pair) => {
      const [plan, hours] = pair.split(':') as [string, string];
      return [plan, Number(hours)];
    }),
  );

/** The build an error report names unless SENTRY_RELEASE says otherwise (same depth from src/ and dist/). */
const DEFAULT_RELEASE = (() => {
  const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { name: string; version: string };
  return `${manifest.name}@${manifest.version}`;
})();

export const variables = {
  env: setting('NODE_ENV', '`production` requires DATABASE_URL (or the serving URLs), JWT_SECRET and ENCRYPTION_KEY', Joi.string<'development' | 'test' | 'production'>().valid('development', 'test', 'production'), 'development'),
  http: {
    host: setting('HOST', 'the address the server listens on', Joi.string().hostname(), '0.0.0.0'),
    port: setting('PORT', 'the port the server listens on', port(), 3000),
    bodyLimit: setting('BODY_LIMIT', 'JSON body limit (413 past it)', Joi.string().pattern(/^\d+(b|kb|mb)$/i), '1mb'),
    corsOrigins: setting('CORS_ORIGINS', 'comma-separated origins allowed to call the API from a browser', Joi.string().allow(''), '', (text) =>
      text
        .split(',')
        .map((origin) => origin.trim())
        .filter(Boolean),
    ),
    trustProxy: setting(
      'TRUST_PROXY',
      'how many proxies (or which) may set X-Forwarded-For',
      Joi.alternatives<boolean | number | string>(Joi.boolean(), Joi.number().integer().min(0), Joi.string()),
      false,
      (value) => (value === 'true' ? true : value === 'false' ? false : value),
    ),
    shutdownTimeoutMs: setting('SHUTDOWN_TIMEOUT_MS', 'how long SIGTERM waits for in-flight requests', int(0), 10_000),
  },
  db: {
    // Production needs the owner's URL, unless a serving process is handed its roles' own URLs instead.
    adminUrl: optional(
      'DATABASE_URL',
      'privileged URL (schema owner with CREATEROLE) for migrations and seeds; unset: the embedded default',
      postgresUrl.when('NODE_ENV', {
        is: 'production',
        then: Joi.when('PLATFORM_DATABASE_URL', {
          is: Joi.exist(),
          otherwise: Joi.required().messages({ 'any.required': '"DATABASE_URL" is required in production (the embedded default is for development)' }),
        }),
      }),
    ),
    appUrl: optional(
      'APP_DATABASE_URL',
      'the unprivileged login the server uses; otherwise derived from DATABASE_URL',
      postgresUrl.when('PLATFORM_DATABASE_URL', {
        is: Joi.exist(),
        then: Joi.required().messages({ 'any.required': '"APP_DATABASE_URL" is required with PLATFORM_DATABASE_URL' }),
      }),
    ),
    platformUrl: optional(
      'PLATFORM_DATABASE_URL',
      'the platform login; given with APP_DATABASE_URL and JOBS_DATABASE_URL (`npm run db:serving-urls`), a serving process needs no DATABASE_URL',
      postgresUrl,
    ),
    jobsUrl: optional(
      'JOBS_DATABASE_URL',
      'the jobs login, only with PLATFORM_DATABASE_URL',
      postgresUrl.when('PLATFORM_DATABASE_URL', {
        is: Joi.exist(),
        then: Joi.required().messages({ 'any.required': '"JOBS_DATABASE_URL" is required with PLATFORM_DATABASE_URL' }),
        otherwise: Joi.forbidden().messages({ 'any.unknown': '"JOBS_DATABASE_URL" is only used with PLATFORM_DATABASE_URL' }),
      }),
    ),
    poolMax: setting('DB_POOL_MAX', 'connections per pool of a process', int(1, 200), 10),
    statementTimeoutMs: setting('DB_STATEMENT_TIMEOUT_MS', 'the longest a statement may run', int(100), 30_000),
    connectTimeoutMs: setting('DB_CONNECT_TIMEOUT_MS', 'the longest a connection may take to open', int(100), 5_000),
    embedded: {
      dir: setting('EMBEDDED_PG_DIR', "the embedded default's cluster directory", Joi.string(), '.data/postgres'),
      port: setting('EMBEDDED_PG_PORT', "the embedded default's port", int(1, 65535), 54329),
    },
  },
  redisUrl: optional('REDIS_URL', 'Redis for rate limits and announcements; unset: in-memory, per process', Joi.string().uri({ scheme: ['redis', 'rediss'] })),
  redisCluster: group(['nodes'], {
    nodes: optional(
      'REDIS_CLUSTER_NODES',
      'a Redis Cluster instead of REDIS_URL: seed nodes as host:port,host:port (IPv6 as [::1]:7000)',
      Joi.string()
        .max(2000)
        .custom((text: string, helpers) => (clusterNodes(text) ? text : helpers.error('string.clusterNodes')))
        .messages({ 'string.clusterNodes': '{{#label}} must be host:port pairs, comma-separated (e.g. redis-1:6379,redis-2:6379)' }),
      (text) => clusterNodes(text)!,
    ),
    password: optional(
      'REDIS_CLUSTER_PASSWORD',
      "the cluster nodes' password, if they require one",
      Joi.string()
        .max(500)
        .when('REDIS_CLUSTER_NODES', {
          not: Joi.exist(),
          then: Joi.forbidden().messages({ 'any.unknown': '"REDIS_CLUSTER_PASSWORD" is only used with REDIS_CLUSTER_NODES' }),
        }),
    ),
  }),
  redisKeyPrefix: setting('REDIS_KEY_PREFIX', 'prefix of every Redis key, so that deployments (or test runs) can share one Redis', Joi.string().pattern(/^[A-Za-z0-9:_-]{1,50}$/), 'crm:'),
  jwt: {
    secret: optional(
      'JWT_SECRET',
      'HS256 keys of 32+ characters, comma-separated for rotation (current first); unset outside production: one is generated per process',
      Joi.string()
        .custom((value: string, helpers) => (jwtSecretKeys(value).length > 0 && jwtSecretKeys(value).every((key) => key.length >= 32) ? value : helpers.error('jwt.keys')))
        .messages({ 'jwt.keys': '{{#label}} must hold keys of at least 32 characters each (comma-separated, current first)' })
        .when('NODE_ENV', { is: 'production', then: Joi.required().messages({ 'any.required': '"JWT_SECRET" is required in production' }) }),
    ),
    issuer: setting('JWT_ISSUER', '`iss` of issued tokens', Joi.string(), 'crm-api'),
    accessTtlSeconds: setting('ACCESS_TOKEN_TTL_SECONDS', 'access token lifetime', int(60, 86_400), 900),
    refreshTtlSeconds: setting('REFRESH_TOKEN_TTL_SECONDS', 'refresh token lifetime', int(3600), 7 * 86_400),
  },
  auth: {
    // At least 10 wherever real passwords are kept; the test suite alone may go down to 4, as the hashes it
    // makes guard nothing and hashing at 10 cost it minutes of CPU.
    bcryptCost: setting(
      'BCRYPT_COST',
      'bcrypt work factor of stored passwords (10..15; 4 allowed with NODE_ENV=test)',
      Joi.number().integer().max(15).when('NODE_ENV', { is: 'test', then: Joi.number().min(4), otherwise: Joi.number().min(10) }),
      12,
    ),
    lockoutThreshold: setting('LOGIN_LOCKOUT_THRESHOLD', 'failed sign-ins of one account before it is locked', int(1), 10),
    lockoutSeconds: setting('LOGIN_LOCKOUT_SECONDS', 'how long a locked account stays locked', int(1), 900),
    inviteTtlSeconds: setting('INVITE_TTL_SECONDS', 'lifetime of an invitation link', int(300), 7 * 86_400),
    tenantBaseDomain: optional(
      'TENANT_BASE_DOMAIN',
      'hosts under this domain name their tenant by subdomain (acme.example.com); unset: no subdomains',
      Joi.string().hostname(),
      (domain) => domain.toLowerCase(),
    ),
    superAdmin: group(['email', 'password'], {
      // Operator addresses may be on reserved or internal domains (.test, .internal, .local): no TLD list check.
      email: optional('SUPER_ADMIN_EMAIL', 'the first platform super admin, created at boot unless that email exists', Joi.string().email({ tlds: { allow: false } })),
      password: optional(
        'SUPER_ADMIN_PASSWORD',
        "the first super admin's password (never reset by a restart)",
        Joi.string()
          .min(12)
          .max(72)
          .when('SUPER_ADMIN_EMAIL', { is: Joi.exist(), then: Joi.required().messages({ 'any.required': '"SUPER_ADMIN_PASSWORD" is required with SUPER_ADMIN_EMAIL' }) }),
      ),
    }),
    adminMfaRequired: setting('ADMIN_MFA_REQUIRED', 'platform staff must set up TOTP before anything else (403 MFA_ENROLLMENT_REQUIRED until then); default: true in production', Joi.boolean(), isProduction),
    sessionRetentionDays: setting('SESSION_RETENTION_DAYS', 'how long ended sessions stay listed before the cleanup job deletes them', int(1), 30),
    principalCacheSeconds: setting(
      'PRINCIPAL_CACHE_SECONDS',
      'how long an instance keeps a confirmed caller in memory (0: never); changes made through the API reach every instance within a second regardless',
      int(0, 300),
      30,
    ),
  },
  // Per-plan request budgets are data (plans.requests_per_hour); these cover callers without a plan.
  rateLimits: {
    anonymous: {
      max: setting('RATE_LIMIT_ANONYMOUS_MAX', 'requests per client IP without credentials per window', int(1), 100),
      windowSeconds: setting('RATE_LIMIT_ANONYMOUS_WINDOW_SECONDS', 'the anonymous budget window', int(1), 900),
    },
    login: {
      max: setting('RATE_LIMIT_LOGIN_MAX', 'sign-in attempts per client IP and email per window', int(1), 5),
      windowSeconds: setting('RATE_LIMIT_LOGIN_WINDOW_SECONDS', 'the sign-in budget window', int(1), 900),
    },
    signup: {
      max: setting('RATE_LIMIT_SIGNUP_MAX', 'registrations per client IP per window: sign-up may say an address is taken, so it is budgeted strictly', int(1), 5),
      windowSeconds: setting('RATE_LIMIT_SIGNUP_WINDOW_SECONDS', 'the registration budget window', int(1), 3600),
    },
    authFailOpen: setting('RATE_LIMIT_AUTH_FAIL_OPEN', 'when Redis is unreachable, auth routes answer 503 unless this is true; other routes always pass', Joi.boolean(), false),
  },
  idempotency: {
    ttlSeconds: setting('IDEMPOTENCY_TTL_SECONDS', 'how long an Idempotency-Key and its stored answer are kept (the runtime setting\'s default)', int(60), 86_400),
  },
  // Downloads (CSV and audit exports, organization exports, archives) and bulk imports, per instance.
  transfers: {
    downloadsPerTenant: setting('DOWNLOADS_PER_TENANT', 'downloads of one tenant sent at once; one more answers 429', int(1, 100), 4),
    downloadStallMs: setting('DOWNLOAD_STALL_SECONDS', 'a download client that takes none of the bytes waiting for it this long is disconnected', int(1, 600), 30, seconds),
    importsPerTenant: setting('IMPORTS_PER_TENANT', 'bulk imports of one tenant running at once, across all instances (and uploads per instance); one more answers 429', int(1, 20), 2),
    liveEventsHeartbeatMs: setting('LIVE_EVENTS_HEARTBEAT_SECONDS', 'a live event stream with nothing to send this long sends a heartbeat comment (and reads the feed)', int(1, 120), 15, seconds),
  },
  audit: {
    retentionDays: setting('AUDIT_RETENTION_DAYS', 'entries older than this are archived, then pruned, by the daily retention job', int(1), 365),
    sealWarnSeconds: setting('AUDIT_SEAL_WARN_SECONDS', 'an entry still unsealed after this long is a /health warning and counts in audit_pending_overdue_entries', int(1, 86_400), 60),
  },
  compliance: {
    exportTtlDays: setting('DATA_EXPORT_TTL_DAYS', 'days a finished organization export stays downloadable before the expiry job deletes its content', int(1, 365), 7),
    deletionGraceDays: setting('ORG_DELETION_GRACE_DAYS', 'days between a deletion request and the purge of the organization', int(1, 365), 30),
    subjectReportMaxRows: setting('SUBJECT_REPORT_MAX_ROWS', 'rows per section of a subject-access report (oldest first); a longer section is cut and named in `limits.truncated`', int(10, 10_000), 1000),
  },
  reports: {
    statementTimeoutMs: setting('REPORT_STATEMENT_TIMEOUT_MS', "the longest a report's query may run; PostgreSQL cancels it past this (503)", int(100, 60_000), 5_000),
  },
  // The platform admin console.
  console: {
    settingsCacheSeconds: setting('RUNTIME_SETTINGS_CACHE_SECONDS', 'how long an instance keeps runtime settings (platform_settings) before re-reading them', int(1, 300), 5),
    usageFlushSeconds: setting('USAGE_FLUSH_SECONDS', 'how often an instance moves its in-process request counters to Redis (or the database)', int(1, 300), 5),
    impersonationTtlSeconds: setting('IMPERSONATION_TTL_SECONDS', 'lifetime of an impersonation token; it cannot be refreshed', int(60, 3600), 900),
  },
  // Security detectors (docs/SECURITY.md, "Detectors").
  security: {
    alertDedupSeconds: setting('SECURITY_ALERT_DEDUP_SECONDS', 'an alert of one pattern (type and subject) is mailed at most once per this many seconds', int(60, 604_800), 3600),
    exportsPerHour: setting('SECURITY_EXPORTS_PER_HOUR', 'this many CRM exports within an hour, in one tenant, is a mass export', int(1, 1000), 5),
    exportRows: setting('SECURITY_EXPORT_ROWS', 'one export of at least this many rows is a mass export', int(1), 10_000),
    signinWindowSeconds: setting('SECURITY_SIGNIN_WINDOW_SECONDS', 'the window sign-in failures are counted over', int(60, 86_400), 900),
    signinAccountsPerIp: setting('SECURITY_SIGNIN_ACCOUNTS_PER_IP', 'failures of this many accounts from one IP within the window: signin.failures_one_ip', int(2, 10_000), 5),
    signinIpsPerAccount: setting('SECURITY_SIGNIN_IPS_PER_ACCOUNT', 'failures of one account from this many IPs within the window: signin.failures_one_account', int(2, 10_000), 5),
    alertWebhookUrl: setting(
      'SECURITY_ALERT_WEBHOOK_URL',
      "staff security alerts also go to this Slack incoming webhook ('' for none); /admin/config may override it",
      Joi.string().uri({ scheme: ['https', 'http'] }).allow(''),
      '',
    ),
    staffAlertSeverity: setting(
      'SECURITY_STAFF_ALERT_SEVERITY',
      'events of this severity or above are alerted to staff (e-mail and the webhook)',
      Joi.string<'low' | 'medium' | 'high' | 'critical'>().valid('low', 'medium', 'high', 'critical'),
      'critical',
    ),
    signinDelayMs: setting('SECURITY_SIGNIN_DELAY_MS', 'the pause added to every sign-in from an IP that signin.failures_one_ip named (0: no pause)', int(0, 10_000), 2_000),
    signinDelaySeconds: setting('SECURITY_SIGNIN_DELAY_SECONDS', 'how long that pause stays on the IP', int(60, 86_400), 900),
    walkRefusals: setting('SECURITY_WALK_REFUSALS', 'this many 404/403 answers to one user or API key within the walk window: access.id_walk', int(3, 100_000), 30),
    walkWindowSeconds: setting('SECURITY_WALK_WINDOW_SECONDS', 'the window 404/403 answers are counted over, per caller', int(10, 3_600), 60),
    keyThrottleSeconds: setting('SECURITY_KEY_THROTTLE_SECONDS', 'how long an API key caught walking ids is answered 429', int(10, 86_400), 600),
  },
  support: {
    slaHoursByPlan: setting(
      'SUPPORT_SLA_HOURS',
      'hours to a first staff answer, by plan code; a plan not listed gets the longest',
      Joi.string()
        .pattern(/^[a-z0-9_-]+:\d{1,4}(,[a-z0-9_-]+:\d{1,4})*$/)
        .messages({ 'string.pattern.base': '"SUPPORT_SLA_HOURS" must look like enterprise:4,pro:24,free:72' }),
      'enterprise:4,pro:24,free:72',
      hoursByPlan,
    ),
  },
  jobs: {
    inProcess: setting('JOBS_IN_PROCESS', 'run the job engine inside the API process; false when `npm run worker` processes run it', Joi.boolean(), true),
    concurrency: setting('JOBS_CONCURRENCY', 'jobs a process runs at a time', int(1, 32), 2),
    workerPort: setting('WORKER_PORT', "the worker process's /metrics and /health port", port(), 3001),
  },
  /** The key-encryption key as given; app-config.ts derives one from the JWT secret when it is not. */
  encryptionKey: optional(
    'ENCRYPTION_KEY',
    'key-encryption key (32 bytes, base64) for keys kept in the database, such as the per-person audit keys; outside production derived from the JWT secret',
    Joi.string()
      .base64({ paddingRequired: false })
      .length(44)
      .when('NODE_ENV', { is: 'production', then: Joi.required().messages({ 'any.required': '"ENCRYPTION_KEY" is required in production (32 random bytes, base64)' }) })
      .messages({ 'string.length': '{{#label}} must be 32 bytes, base64-encoded (44 characters)' }),
    (key) => Buffer.from(key, 'base64'),
  ),
  log: {
    level: setting('LOG_LEVEL', 'the least severe level logged', Joi.string().valid('error', 'warn', 'info', 'http', 'debug', 'silent'), 'info'),
  },
  metricsToken: optional('METRICS_TOKEN', 'when set, /metrics needs `Authorization: Bearer <token>`', Joi.string().min(16)),
  /** The credential keys as given; app-config.ts derives one from the encryption key when they are not. */
  credentialKeys: optional(
    'CREDENTIALS_KEYS',
    'keys for credentials kept encrypted (webhook and integration secrets, queued e-mails) as keyId:base64key, current first; older ones only decrypt until `npm run credentials:rotate`',
    Joi.string()
      .pattern(/^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=?(,[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=?)*$/)
      .messages({ 'string.pattern.base': '{{#label}} must be keyId:base64key pairs (32-byte keys), comma-separated, current key first' }),
    (text) =>
      text.split(',').map((pair) => {
        const [id, key] = pair.split(':') as [string, string];
        return { id, key: Buffer.from(key, 'base64') };
      }),
  ),
  webhooks: {
    allowPrivateNetworks: setting('WEBHOOK_ALLOW_PRIVATE_NETWORKS', 'lets webhooks reach loopback, private and link-local addresses (a local receiver in development and tests)', Joi.boolean(), false),
  },
  email: {
    smtpUrl: optional('SMTP_URL', 'smtp:// or smtps://user:pass@host:port of the mail server', Joi.string().uri({ scheme: ['smtp', 'smtps'] })),
    // SMTP when an SMTP server is given; otherwise messages are only kept as JSON in the notification log.
    transport: setting(
      'EMAIL_TRANSPORT',
      '`json` keeps each message as JSON in the notification log instead of sending it (development, tests); default: smtp with SMTP_URL, else json',
      Joi.string<'smtp' | 'json'>()
        .valid('smtp', 'json')
        .when('SMTP_URL', { is: Joi.exist(), otherwise: Joi.string().invalid('smtp') })
        .messages({ 'any.invalid': '"SMTP_URL" is required when EMAIL_TRANSPORT is smtp' }),
      (others) => (others.SMTP_URL === undefined ? 'json' : 'smtp'),
    ),
    from: setting('EMAIL_FROM', 'sender of every e-mail', Joi.string().max(200), 'CRM <no-reply@localhost>'),
  },
  billing: {
    trialDays: setting('TRIAL_DAYS', 'days a self-registered paid plan is a trial before it needs a subscription', int(1, 365), 14),
    returnUrl: setting('BILLING_RETURN_URL', "where Checkout and the customer portal send the customer back (the app's billing page)", Joi.string().uri({ scheme: ['http', 'https'] }), 'http://localhost:3000/billing'),
    // Billing talks to Stripe only when both keys are set (else the Stripe routes answer 404 BILLING_DISABLED).
    stripe: group(['secretKey', 'webhookSecret'], {
      secretKey: optional(
        'STRIPE_SECRET_KEY',
        'Stripe secret or restricted key; with STRIPE_WEBHOOK_SECRET, turns on Checkout, the customer portal and the webhook',
        Joi.string()
          .pattern(/^(sk|rk)_(test|live)_\S+$/)
          .messages({ 'string.pattern.base': '{{#label}} must be a Stripe secret or restricted key (sk_... or rk_...)' }),
      ),
      webhookSecret: optional(
        'STRIPE_WEBHOOK_SECRET',
        'the Stripe webhook signing secret',
        Joi.string()
          .pattern(/^whsec_\S+$/)
          .when('STRIPE_SECRET_KEY', { is: Joi.exist(), then: Joi.required() })
          .messages({ 'string.pattern.base': '{{#label}} must be a webhook signing secret (whsec_...)', 'any.required': '"STRIPE_WEBHOOK_SECRET" is required with STRIPE_SECRET_KEY' }),
      ),
      apiUrl: optional('STRIPE_API_URL', "another API endpoint than Stripe's own (a local double of its API, in tests and CI)", Joi.string().uri({ scheme: ['http', 'https'] })),
      // Three tries of this (and their backoff) must fit well inside the 60 s idle-in-transaction guard.
      timeoutMs: setting('STRIPE_TIMEOUT_MS', "each outbound Stripe call's deadline", int(100, 15_000), 10_000),
    }),
  },
  // The one policy of every outbound call (infra/outbound): a breaker per destination, retries for idempotent calls.
  outbound: {
    breakerVolume: setting('OUTBOUND_BREAKER_VOLUME', "failures within the rolling window (10 s) before a destination's breaker may open (at half of them failing)", int(1, 1000), 5),
    breakerResetMs: setting('OUTBOUND_BREAKER_RESET_MS', 'how long an open breaker refuses calls before letting one probe through (half-open)', int(100, 600_000), 30_000),
    retries: setting('OUTBOUND_RETRIES', 'retries of an idempotent call after an outage (never of a call that may not be repeated)', int(0, 5), 2),
    retryBaseMs: setting('OUTBOUND_RETRY_BASE_MS', 'the first retry waits up to this (full jitter), doubling each time', int(1, 10_000), 200),
  },
  parts: {
    // Three tries and their backoff fit inside a request.
    supplierTimeoutMs: setting('SUPPLIER_TIMEOUT_MS', "the parts supplier's deadline per call", int(50, 15_000), 5_000),
    orderPollSeconds: setting('PARTS_ORDER_POLL_SECONDS', "how often an open order's status is asked of the supplier", int(1, 86_400), 900),
  },
  // Only with a DSN does anything leave the process for Sentry (infra/error-tracking).
  errorTracking: group(['dsn'], {
    dsn: optional('SENTRY_DSN', 'set: unhandled errors, 5xx answers and failed jobs are reported to this Sentry project', Joi.string().uri({ scheme: ['http', 'https'] })),
    release: setting('SENTRY_RELEASE', "which build an event came from (default: package.json's name@version)", Joi.string().max(200).pattern(/^\S+$/), DEFAULT_RELEASE),
  }),
};

/** The whole environment's rules: each variable's, then those between variables. */
export const envSchema = schemaOf(variables)
  .with('STRIPE_WEBHOOK_SECRET', 'STRIPE_SECRET_KEY')
  // One Redis or one cluster: both set would leave it unclear which holds the counters.
  .oxor('REDIS_URL', 'REDIS_CLUSTER_NODES')
  .messages({ 'object.oxor': '"REDIS_URL" and "REDIS_CLUSTER_NODES" are exclusive: set one' });
