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
    poolMax: number;
    statementTimeoutMs: number;
    connectTimeoutMs: number;
    embedded: { dir: string; port: number };
  };
  redisUrl?: string;
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
  };
  log: { level: string };
  metricsToken?: string;
}
