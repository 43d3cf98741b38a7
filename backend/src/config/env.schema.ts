import Joi from 'joi';
import { jwtSecretKeys } from '../lib/jwt-keys';

const postgresUrl = Joi.string().uri({ scheme: ['postgres', 'postgresql'] });

/** `host:port,host:port` (IPv6 as `[::1]:7000`): seed nodes of a Redis Cluster, parsed into a list. */
const clusterNodes = Joi.string()
  .max(2000)
  .custom((text: string, helpers) => {
    const nodes = text.split(',').map((entry) => {
      const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(entry.trim());
      const port = Number(match?.[3]);
      return match && port >= 1 && port <= 65535 ? { host: (match[1] ?? match[2])!, port } : undefined;
    });
    return nodes.every(Boolean) ? nodes : helpers.error('string.clusterNodes');
  })
  .messages({ 'string.clusterNodes': '{{#label}} must be host:port pairs, comma-separated (e.g. redis-1:6379,redis-2:6379)' });

/** Every environment variable the service reads, with its default. Unknown variables are ignored. */
export const envSchema = Joi.object({
  NODE_ENV: Joi.string().valid('development', 'test', 'production').default('development'),
  HOST: Joi.string().hostname().default('0.0.0.0'),
  PORT: Joi.number().integer().min(0).max(65535).default(3000),
  // Production needs the owner's URL, unless a serving process is handed its roles' own URLs instead.
  DATABASE_URL: postgresUrl.when('NODE_ENV', {
    is: 'production',
    then: Joi.when('PLATFORM_DATABASE_URL', {
      is: Joi.exist(),
      otherwise: Joi.required().messages({ 'any.required': '"DATABASE_URL" is required in production (the embedded default is for development)' }),
    }),
  }),
  APP_DATABASE_URL: postgresUrl.when('PLATFORM_DATABASE_URL', {
    is: Joi.exist(),
    then: Joi.required().messages({ 'any.required': '"APP_DATABASE_URL" is required with PLATFORM_DATABASE_URL' }),
  }),
  PLATFORM_DATABASE_URL: postgresUrl,
  JOBS_DATABASE_URL: postgresUrl.when('PLATFORM_DATABASE_URL', {
    is: Joi.exist(),
    then: Joi.required().messages({ 'any.required': '"JOBS_DATABASE_URL" is required with PLATFORM_DATABASE_URL' }),
    otherwise: Joi.forbidden().messages({ 'any.unknown': '"JOBS_DATABASE_URL" is only used with PLATFORM_DATABASE_URL' }),
  }),
  DB_POOL_MAX: Joi.number().integer().min(1).max(200).default(10),
  DB_STATEMENT_TIMEOUT_MS: Joi.number().integer().min(100).default(30_000),
  DB_CONNECT_TIMEOUT_MS: Joi.number().integer().min(100).default(5_000),
  EMBEDDED_PG_DIR: Joi.string().default('.data/postgres'),
  EMBEDDED_PG_PORT: Joi.number().integer().min(1).max(65535).default(54329),
  REDIS_URL: Joi.string().uri({ scheme: ['redis', 'rediss'] }),
  REDIS_CLUSTER_NODES: clusterNodes,
  REDIS_CLUSTER_PASSWORD: Joi.string().max(500).when('REDIS_CLUSTER_NODES', {
    not: Joi.exist(),
    then: Joi.forbidden().messages({ 'any.unknown': '"REDIS_CLUSTER_PASSWORD" is only used with REDIS_CLUSTER_NODES' }),
  }),
  REDIS_KEY_PREFIX: Joi.string().pattern(/^[A-Za-z0-9:_-]{1,50}$/).default('crm:'),
  // One key, or several comma-separated for rotation (current first): each of 32+ characters.
  JWT_SECRET: Joi.string()
    .custom((value: string, helpers) => (jwtSecretKeys(value).every((key) => key.length >= 32) && jwtSecretKeys(value).length > 0 ? value : helpers.error('jwt.keys')))
    .messages({ 'jwt.keys': '{{#label}} must hold keys of at least 32 characters each (comma-separated, current first)' })
    .when('NODE_ENV', {
    is: 'production',
    then: Joi.required().messages({ 'any.required': '"JWT_SECRET" is required in production' }),
  }),
  ENCRYPTION_KEY: Joi.string()
    .base64({ paddingRequired: false })
    .length(44)
    .when('NODE_ENV', {
      is: 'production',
      then: Joi.required().messages({ 'any.required': '"ENCRYPTION_KEY" is required in production (32 random bytes, base64)' }),
    })
    .messages({ 'string.length': '{{#label}} must be 32 bytes, base64-encoded (44 characters)' }),
  JWT_ISSUER: Joi.string().default('crm-api'),
  ACCESS_TOKEN_TTL_SECONDS: Joi.number().integer().min(60).max(86_400).default(900),
  REFRESH_TOKEN_TTL_SECONDS: Joi.number().integer().min(3600).default(7 * 86_400),
  // At least 10 wherever real passwords are kept; the test suite alone may go down to 4, as the hashes it
  // makes guard nothing and hashing at 10 cost it minutes of CPU.
  BCRYPT_COST: Joi.number().integer().max(15).default(12).when('NODE_ENV', { is: 'test', then: Joi.number().min(4), otherwise: Joi.number().min(10) }),
  LOGIN_LOCKOUT_THRESHOLD: Joi.number().integer().min(1).default(10),
  LOGIN_LOCKOUT_SECONDS: Joi.number().integer().min(1).default(900),
  INVITE_TTL_SECONDS: Joi.number().integer().min(300).default(7 * 86_400),
  TENANT_BASE_DOMAIN: Joi.string().hostname(),
  // Operator addresses may be on reserved or internal domains (.test, .internal, .local): no TLD list check.
  SUPER_ADMIN_EMAIL: Joi.string().email({ tlds: { allow: false } }),
  SUPER_ADMIN_PASSWORD: Joi.string().min(12).max(72).when('SUPER_ADMIN_EMAIL', {
    is: Joi.exist(),
    then: Joi.required().messages({ 'any.required': '"SUPER_ADMIN_PASSWORD" is required with SUPER_ADMIN_EMAIL' }),
  }),
  ADMIN_MFA_REQUIRED: Joi.boolean().when('NODE_ENV', { is: 'production', then: Joi.boolean().default(true), otherwise: Joi.boolean().default(false) }),
  SUPPORT_SLA_HOURS: Joi.string()
    .pattern(/^[a-z0-9_-]+:\d{1,4}(,[a-z0-9_-]+:\d{1,4})*$/)
    .default('enterprise:4,pro:24,free:72')
    .messages({ 'string.pattern.base': '"SUPPORT_SLA_HOURS" must look like enterprise:4,pro:24,free:72' }),
  RATE_LIMIT_ANONYMOUS_MAX: Joi.number().integer().min(1).default(100),
  RATE_LIMIT_ANONYMOUS_WINDOW_SECONDS: Joi.number().integer().min(1).default(900),
  RATE_LIMIT_LOGIN_MAX: Joi.number().integer().min(1).default(5),
  RATE_LIMIT_LOGIN_WINDOW_SECONDS: Joi.number().integer().min(1).default(900),
  RATE_LIMIT_SIGNUP_MAX: Joi.number().integer().min(1).default(5),
  RATE_LIMIT_SIGNUP_WINDOW_SECONDS: Joi.number().integer().min(1).default(3600),
  RATE_LIMIT_AUTH_FAIL_OPEN: Joi.boolean().default(false),
  AUDIT_RETENTION_DAYS: Joi.number().integer().min(1).default(365),
  AUDIT_SEAL_WARN_SECONDS: Joi.number().integer().min(1).max(86_400).default(60),
  SESSION_RETENTION_DAYS: Joi.number().integer().min(1).default(30),
  PRINCIPAL_CACHE_SECONDS: Joi.number().integer().min(0).max(300).default(30),
  DOWNLOADS_PER_TENANT: Joi.number().integer().min(1).max(100).default(4),
  DOWNLOAD_STALL_SECONDS: Joi.number().integer().min(1).max(600).default(30),
  LIVE_EVENTS_HEARTBEAT_SECONDS: Joi.number().integer().min(1).max(120).default(15),
  IMPORTS_PER_TENANT: Joi.number().integer().min(1).max(20).default(2),
  DATA_EXPORT_TTL_DAYS: Joi.number().integer().min(1).max(365).default(7),
  SUBJECT_REPORT_MAX_ROWS: Joi.number().integer().min(10).max(10_000).default(1000),
  REPORT_STATEMENT_TIMEOUT_MS: Joi.number().integer().min(100).max(60_000).default(5_000),
  ORG_DELETION_GRACE_DAYS: Joi.number().integer().min(1).max(365).default(30),
  JOBS_IN_PROCESS: Joi.boolean().default(true),
  JOBS_CONCURRENCY: Joi.number().integer().min(1).max(32).default(2),
  WORKER_PORT: Joi.number().integer().min(0).max(65535).default(3001),
  IDEMPOTENCY_TTL_SECONDS: Joi.number().integer().min(60).default(86_400),
  SECURITY_ALERT_DEDUP_SECONDS: Joi.number().integer().min(60).max(604_800).default(3600),
  SECURITY_EXPORTS_PER_HOUR: Joi.number().integer().min(1).max(1000).default(5),
  SECURITY_EXPORT_ROWS: Joi.number().integer().min(1).default(10_000),
  SECURITY_SIGNIN_WINDOW_SECONDS: Joi.number().integer().min(60).max(86_400).default(900),
  SECURITY_SIGNIN_ACCOUNTS_PER_IP: Joi.number().integer().min(2).max(10_000).default(5),
  SECURITY_SIGNIN_IPS_PER_ACCOUNT: Joi.number().integer().min(2).max(10_000).default(5),
  SECURITY_ALERT_WEBHOOK_URL: Joi.string().uri({ scheme: ['https', 'http'] }).allow('').default(''),
  SECURITY_STAFF_ALERT_SEVERITY: Joi.string().valid('low', 'medium', 'high', 'critical').default('critical'),
  SECURITY_SIGNIN_DELAY_MS: Joi.number().integer().min(0).max(10_000).default(2_000),
  SECURITY_SIGNIN_DELAY_SECONDS: Joi.number().integer().min(60).max(86_400).default(900),
  SECURITY_WALK_REFUSALS: Joi.number().integer().min(3).max(100_000).default(30),
  SECURITY_WALK_WINDOW_SECONDS: Joi.number().integer().min(10).max(3_600).default(60),
  SECURITY_KEY_THROTTLE_SECONDS: Joi.number().integer().min(10).max(86_400).default(600),
  RUNTIME_SETTINGS_CACHE_SECONDS: Joi.number().integer().min(1).max(300).default(5),
  USAGE_FLUSH_SECONDS: Joi.number().integer().min(1).max(300).default(5),
  IMPERSONATION_TTL_SECONDS: Joi.number().integer().min(60).max(3600).default(900),
  CORS_ORIGINS: Joi.string().allow('').default(''),
  TRUST_PROXY: Joi.alternatives(Joi.boolean(), Joi.number().integer().min(0), Joi.string()).default(false),
  BODY_LIMIT: Joi.string().pattern(/^\d+(b|kb|mb)$/i).default('1mb'),
  LOG_LEVEL: Joi.string().valid('error', 'warn', 'info', 'http', 'debug', 'silent').default('info'),
  SHUTDOWN_TIMEOUT_MS: Joi.number().integer().min(0).default(10_000),
  METRICS_TOKEN: Joi.string().min(16),
  CREDENTIALS_KEYS: Joi.string()
    .pattern(/^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=?(,[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=?)*$/)
    .messages({ 'string.pattern.base': '{{#label}} must be keyId:base64key pairs (32-byte keys), comma-separated, current key first' }),
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: Joi.boolean().default(false),
  // SMTP when an SMTP server is given; otherwise messages are only kept as JSON in the notification log.
  EMAIL_TRANSPORT: Joi.string()
    .valid('smtp', 'json')
    .when('SMTP_URL', { is: Joi.exist(), then: Joi.string().default('smtp'), otherwise: Joi.string().default('json').invalid('smtp') })
    .messages({ 'any.invalid': '"SMTP_URL" is required when EMAIL_TRANSPORT is smtp' }),
  SMTP_URL: Joi.string().uri({ scheme: ['smtp', 'smtps'] }),
  EMAIL_FROM: Joi.string().max(200).default('CRM <no-reply@localhost>'),
  TRIAL_DAYS: Joi.number().integer().min(1).max(365).default(14),
  // Billing talks to Stripe only when both keys are set; one without the other is a mistake.
  STRIPE_SECRET_KEY: Joi.string().pattern(/^(sk|rk)_(test|live)_\S+$/).messages({ 'string.pattern.base': '{{#label}} must be a Stripe secret or restricted key (sk_... or rk_...)' }),
  STRIPE_WEBHOOK_SECRET: Joi.string()
    .pattern(/^whsec_\S+$/)
    .when('STRIPE_SECRET_KEY', { is: Joi.exist(), then: Joi.required() })
    .messages({ 'string.pattern.base': '{{#label}} must be a webhook signing secret (whsec_...)', 'any.required': '"STRIPE_WEBHOOK_SECRET" is required with STRIPE_SECRET_KEY' }),
  STRIPE_API_URL: Joi.string().uri({ scheme: ['http', 'https'] }),
  // Three tries of this (and their backoff) must fit well inside the 60 s idle-in-transaction guard.
  STRIPE_TIMEOUT_MS: Joi.number().integer().min(100).max(15_000).default(10_000),
  BILLING_RETURN_URL: Joi.string().uri({ scheme: ['http', 'https'] }).default('http://localhost:3000/billing'),
  // The one policy of every outbound call (infra/outbound): a breaker per destination, retries for idempotent calls.
  OUTBOUND_BREAKER_VOLUME: Joi.number().integer().min(1).max(1000).default(5),
  OUTBOUND_BREAKER_RESET_MS: Joi.number().integer().min(100).max(600_000).default(30_000),
  OUTBOUND_RETRIES: Joi.number().integer().min(0).max(5).default(2),
  OUTBOUND_RETRY_BASE_MS: Joi.number().integer().min(1).max(10_000).default(200),
  // The parts supplier's deadline per call; three tries and their backoff fit inside a request.
  SUPPLIER_TIMEOUT_MS: Joi.number().integer().min(50).max(15_000).default(5_000),
  PARTS_ORDER_POLL_SECONDS: Joi.number().integer().min(1).max(86_400).default(900),
  // Error tracking: only with a DSN does anything leave the process for Sentry.
  SENTRY_DSN: Joi.string().uri({ scheme: ['http', 'https'] }),
  SENTRY_RELEASE: Joi.string().max(200).pattern(/^\S+$/),
})
  .with('STRIPE_WEBHOOK_SECRET', 'STRIPE_SECRET_KEY')
  // One Redis or one cluster: both set would leave it unclear which holds the counters.
  .oxor('REDIS_URL', 'REDIS_CLUSTER_NODES')
  .messages({ 'object.oxor': '"REDIS_URL" and "REDIS_CLUSTER_NODES" are exclusive: set one' });
