/** The one configuration object of the process, built from the environment by loadConfig. */
export interface AppConfig {
  env: 'development' | 'test' | 'production';
  http: {
    host: string;
    port: number;
    bodyLimit: string;
    corsOrigins: string[];
    trustProxy: boolean | number | string;
    shutdownTimeoutMs: number;
  };
  db: {
    /** Privileged URL (migrations, seeds); absent means the embedded default. */
    adminUrl?: string;
    /** Runtime URL given by the operator; otherwise derived from adminUrl. */
    appUrl?: string;
    /**
     * The platform and jobs logins' URLs, given together (with appUrl) to a serving process that must not
     * hold the owner's URL (`npm run db:serving-urls` prints all three); otherwise derived from adminUrl.
     */
    platformUrl?: string;
    jobsUrl?: string;
    poolMax: number;
    statementTimeoutMs: number;
    connectTimeoutMs: number;
    embedded: { dir: string; port: number };
  };
  redisUrl?: string;
  /** A Redis Cluster instead of one Redis (REDIS_CLUSTER_NODES); never set together with redisUrl. */
  redisCluster?: { nodes: Array<{ host: string; port: number }>; password?: string };
  /** Namespaces every key this deployment writes to Redis, so deployments (or test runs) can share one. */
  redisKeyPrefix: string;
  jwt: {
    secret: string;
    /** True when no JWT_SECRET was given and a random one was made for this process. */
    secretGenerated: boolean;
    issuer: string;
    accessTtlSeconds: number;
    refreshTtlSeconds: number;
  };
  auth: {
    bcryptCost: number;
    lockoutThreshold: number;
    lockoutSeconds: number;
    inviteTtlSeconds: number;
    /** Hosts under this domain name their tenant by subdomain (acme.example.com); unset: no subdomains. */
    tenantBaseDomain?: string;
    superAdmin?: { email: string; password: string };
    /** Platform staff must set up TOTP before anything else (403 MFA_ENROLLMENT_REQUIRED until then). */
    adminMfaRequired: boolean;
    /** How long ended sessions stay listed before the cleanup job deletes them. */
    sessionRetentionDays: number;
    /**
     * How long an instance keeps a confirmed caller in memory (0: never). Announced changes (sign-out,
     * revocation, disabled user, role or tenant change) reach every instance well within a second regardless.
     */
    principalCacheSeconds: number;
  };
  /** Per-plan request budgets are data (plans.requests_per_hour); these cover callers without a plan. */
  rateLimits: {
    anonymous: { max: number; windowSeconds: number };
    login: { max: number; windowSeconds: number };
    /** Registrations per client IP: sign-up may say an address is taken, so it is budgeted strictly. */
    signup: { max: number; windowSeconds: number };
    /** When Redis is unreachable, auth routes answer 503 unless this is true; other routes always pass. */
    authFailOpen: boolean;
  };
  idempotency: { ttlSeconds: number };
  /** Downloads (CSV and audit exports, organization exports, archives) and bulk imports, per instance. */
  transfers: {
    /** Downloads of one tenant sent at once; one more answers 429. */
    downloadsPerTenant: number;
    /** A download client that takes none of the bytes waiting for it for this long is disconnected. */
    downloadStallMs: number;
    /** Bulk imports of one tenant running at once, across all instances (and uploads per instance); one more answers 429. */
    importsPerTenant: number;
    /** A live event stream with nothing to send this long sends a heartbeat comment (and reads the feed). */
    liveEventsHeartbeatMs: number;
  };
  audit: {
    /** Entries older than this are archived, then pruned, by the daily retention job. */
    retentionDays: number;
    /** An entry still unsealed after this long is a /health warning and counts in audit_pending_overdue_entries. */
    sealWarnSeconds: number;
  };
  compliance: {
    /** Days a finished organization export stays downloadable before the expiry job deletes its content. */
    exportTtlDays: number;
    /** Days between a deletion request and the purge of the organization. */
    deletionGraceDays: number;
    /** Rows per section of a subject-access report (oldest first); a longer section is cut and named in `limits.truncated`. */
    subjectReportMaxRows: number;
  };
  reports: {
    /** The longest a report's query may run; PostgreSQL cancels it past this (503). */
    statementTimeoutMs: number;
  };
  /** The platform admin console. */
  console: {
    /** How long an instance keeps runtime settings (platform_settings) before re-reading them. */
    settingsCacheSeconds: number;
    /** How often an instance moves its in-process request counters to Redis (or the database). */
    usageFlushSeconds: number;
    /** Lifetime of an impersonation token; it cannot be refreshed. */
    impersonationTtlSeconds: number;
  };
  /** Security detectors (docs/SECURITY.md, "Detectors"). */
  security: {
    /** An alert of one pattern (type and subject) is mailed at most once per this many seconds. */
    alertDedupSeconds: number;
    /** This many CRM exports within an hour, in one tenant, is a mass export. */
    exportsPerHour: number;
    /** One export of at least this many rows is a mass export. */
    exportRows: number;
    /** The window sign-in failures are counted over. */
    signinWindowSeconds: number;
    /** Failures of this many accounts from one IP within the window: signin.failures_one_ip. */
    signinAccountsPerIp: number;
    /** Failures of one account from this many IPs within the window: signin.failures_one_account. */
    signinIpsPerAccount: number;
    /** Staff security alerts also go to this Slack incoming webhook ('' for none); /admin/config may override it. */
    alertWebhookUrl: string;
    /** Events of this severity or above are alerted to staff (e-mail and the webhook). */
    staffAlertSeverity: 'low' | 'medium' | 'high' | 'critical';
    /** The pause added to every sign-in from an IP that signin.failures_one_ip named (0: no pause). */
    signinDelayMs: number;
    /** How long that pause stays on the IP. */
    signinDelaySeconds: number;
    /** This many 404/403 answers to one user or API key within the walk window: access.id_walk. */
    walkRefusals: number;
    /** The window 404/403 answers are counted over, per caller. */
    walkWindowSeconds: number;
    /** How long an API key caught walking ids is answered 429. */
    keyThrottleSeconds: number;
  };
  support: {
    /** Hours to a first staff answer, by plan code (SUPPORT_SLA_HOURS); a plan not listed gets the longest. */
    slaHoursByPlan: Record<string, number>;
  };
  jobs: {
    /** Run the job engine inside the API process; false when `npm run worker` processes run it. */
    inProcess: boolean;
    concurrency: number;
    /** The worker process's /metrics and /health port. */
    workerPort: number;
  };
  /**
   * Key-encryption key (AES-256) for keys kept in the database, such as the per-person audit keys.
   * Outside production it defaults to one derived from the JWT secret.
   */
  encryptionKey: Buffer;
  /** True when no ENCRYPTION_KEY was given and the key was derived from the JWT secret. */
  encryptionKeyDerived: boolean;
  log: { level: string };
  metricsToken?: string;
  /**
   * Keys for credentials kept encrypted (webhook signing secrets, integration secrets), current first;
   * older ones only decrypt until `npm run credentials:rotate` has re-encrypted everything.
   */
  credentialKeys: Array<{ id: string; key: Buffer }>;
  webhooks: {
    /** Lets webhooks reach loopback, private and link-local addresses (a local receiver in development and tests). */
    allowPrivateNetworks: boolean;
  };
  email: {
    /** `json` keeps each message as JSON in the notification log instead of sending it (development, tests). */
    transport: 'smtp' | 'json';
    smtpUrl?: string;
    from: string;
  };
  billing: {
    /** Days a self-registered paid plan is a trial before it needs a subscription. */
    trialDays: number;
    /** Where Checkout and the customer portal send the customer back (the app's billing page). */
    returnUrl: string;
    /** Set when STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are; without it the Stripe routes answer 404 BILLING_DISABLED. */
    stripe?: {
      secretKey: string;
      webhookSecret: string;
      /** Another API endpoint than Stripe's own (a local double of its API, in tests and CI). */
      apiUrl?: string;
      /** Each outbound call's deadline. */
      timeoutMs: number;
    };
  };
  /** The policy every outbound call follows (infra/outbound/outbound-call.ts). */
  outbound: {
    /** Failures within the rolling window (10 s) before a destination's breaker may open (at half of them failing). */
    breakerVolume: number;
    /** How long an open breaker refuses calls before letting one probe through (half-open). */
    breakerResetMs: number;
    /** Retries of an idempotent call after an outage (never of a call that may not be repeated). */
    retries: number;
    /** The first retry waits up to this (full jitter), doubling each time. */
    retryBaseMs: number;
  };
  parts: {
    supplierTimeoutMs: number;
    /** How often an open order's status is asked of the supplier. */
    orderPollSeconds: number;
  };
  /** Set with SENTRY_DSN: unhandled errors, 5xx answers and failed jobs are reported (infra/error-tracking). */
  errorTracking?: {
    dsn: string;
    /** Which build an event came from (SENTRY_RELEASE; by default `crm-api@` and package.json's version). */
    release: string;
    environment: string;
  };
}
