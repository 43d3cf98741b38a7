import { ConfigError, loadConfig } from '../src/config/load-config';

describe('configuration', () => {
  it('when nothing is set, then the embedded defaults apply and a JWT secret is generated', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      http: { port: 3000, bodyLimit: '1mb', corsOrigins: [], trustProxy: false },
      db: { adminUrl: undefined, embedded: { dir: '.data/postgres', port: 54329 } },
      redisUrl: undefined,
      jwt: { secretGenerated: true, accessTtlSeconds: 900, refreshTtlSeconds: 604800 },
    });
    expect(config.jwt.secret.length).toBeGreaterThanOrEqual(32);
  });

  it('when values are given, then they are converted and typed', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db:5432/crm',
      REDIS_URL: 'redis://cache:6379',
      CORS_ORIGINS: 'https://a.example.com, https://b.example.com',
      TRUST_PROXY: '1',
      LOG_LEVEL: 'debug',
    });
    expect(config.http.port).toBe(8080);
    expect(config.http.corsOrigins).toEqual(['https://a.example.com', 'https://b.example.com']);
    expect(config.http.trustProxy).toBe(1);
    expect(config.db.adminUrl).toBe('postgres://u:p@db:5432/crm');
    expect(config.log.level).toBe('debug');
  });

  it('when a Redis Cluster is given, then its seed nodes are parsed (IPv6 in brackets) and REDIS_URL stays unset', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: 'redis-1:7000, 10.0.0.2:7001,[::1]:7002', REDIS_CLUSTER_PASSWORD: 'secret' });
    expect(config.redisUrl).toBeUndefined();
    expect(config.redisCluster).toEqual({
      nodes: [
        { host: 'redis-1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      password: 'secret',
    });
    expect(loadConfig({}).redisCluster).toBeUndefined();
  });

  it.each([
    [{ REDIS_CLUSTER_NODES: 'redis-1' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'redis-1:7000,redis-2' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'redis://redis-1:7000' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'redis-1:70000' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'redis-1:7000', REDIS_URL: 'redis://cache:6379' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_PASSWORD: 'secret' }, 'REDIS_CLUSTER_PASSWORD'],
    [{ PORT: 'eighty' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x@y/z' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ LOG_LEVEL: 'chatty' }, 'LOG_LEVEL'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ NODE_ENV: 'production' }, 'JWT_SECRET'],
    [{ NODE_ENV: 'production' }, 'ENCRYPTION_KEY'],
    [{ NODE_ENV: 'production' }, 'DATABASE_URL'],
    [{ ENCRYPTION_KEY: 'dG9vLXNob3J0' }, 'ENCRYPTION_KEY'],
    [{ REDIS_KEY_PREFIX: 'has spaces' }, 'REDIS_KEY_PREFIX'],
    [{ JOBS_DATABASE_URL: 'postgres://jobs@db/crm' }, 'JOBS_DATABASE_URL'],
    [{ PLATFORM_DATABASE_URL: 'postgres://platform@db/crm' }, 'APP_DATABASE_URL'],
    [{ SUPER_ADMIN_EMAIL: 'root@example.test' }, 'SUPER_ADMIN_PASSWORD'],
    [{ STRIPE_SECRET_KEY: 'sk_test_1' }, 'STRIPE_WEBHOOK_SECRET'],
    [{ EMAIL_TRANSPORT: 'smtp' }, 'SMTP_URL'],
  ])('when the environment is %j, then loading fails naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`"${variable}"`));
  });

  it('when a group of variables is set, then its object appears, with the defaults of its other members', () => {
    const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'k'.repeat(40), ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'), DATABASE_URL: 'postgres://u@db/crm', SENTRY_DSN: 'https://key@sentry.example.com/1', SMTP_URL: 'smtp://mail:25' });
    expect(config.errorTracking).toEqual({ dsn: 'https://key@sentry.example.com/1', release: expect.stringMatching(/^crm-backend@/) });
    expect(config.auth.adminMfaRequired).toBe(true);
    expect(config.email.transport).toBe('smtp');
    expect(config.billing.stripe).toBeUndefined();
    expect(config.auth.superAdmin).toBeUndefined();
  });

  it('when several values are bad, then every one is named at once', () => {
    try {
      loadConfig({ PORT: '-1', DB_POOL_MAX: '0' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(2);
    }
  });
});
