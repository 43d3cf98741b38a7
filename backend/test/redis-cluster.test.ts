import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { Knex } from 'knex';
import request from 'supertest';
import { addMember, bearer, registerTenant } from './support/api-fixtures';
import { answeredWithin, eventually } from './support/eventually';
import { platformAdmins } from './support/platform-admin-fixtures';
import { hasRedisCluster, startRedisCluster, TestRedisCluster } from './support/redis-cluster';
import { heldBy, trusted } from './support/app-instances';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

/**
 * Scale-out on a real Redis Cluster (three primaries started here): two instances of the API, each
 * with its own ioredis Cluster client, pools and memory, sharing the cluster and the database. What
 * docs/SCALING.md promises for one Redis holds on the cluster: budgets counted once across instances
 * with keys spread over the primaries, runtime settings changed on one instance applied on the other,
 * and revocations reaching the other instance within a second.
 */
const REVOCATION_BOUND_MS = 1_000;

(hasRedisCluster ? describe : describe.skip)('two instances on a three-node Redis Cluster', () => {
  const prefix = `test:cluster-${randomUUID().slice(0, 8)}:`;
  let cluster: TestRedisCluster;
  let a: TestApp;
  let b: TestApp;
  let owner: Knex;
  let superToken: string;

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    // One deployment: the same prefix, hence the same counters, settings scope and bus channel.
    const env = {
      REDIS_URL: undefined,
      REDIS_CLUSTER_NODES: cluster.nodesSetting,
      REDIS_CLUSTER_PASSWORD: cluster.password,
      REDIS_KEY_PREFIX: prefix,
      // Callers are told apart by X-Forwarded-For, so that their counters land on chosen nodes.
      TRUST_PROXY: 'true',
      RUNTIME_SETTINGS_CACHE_SECONDS: '1',
      USAGE_FLUSH_SECONDS: '1',
      // Sign-in refuses (503) when the store cannot count: a script missing on a node would show.
      RATE_LIMIT_AUTH_FAIL_OPEN: 'false',
    };
    a = buildTestApp({ env });
    b = buildTestApp({ env });
    owner = ownerKnex();
    superToken = (await platformAdmins(a, owner)).superAdmin.token;
    await Promise.all([trusted(a), trusted(b)]);
  }, 60_000);
  afterAll(async () => {
    try {
      await a?.close();
      await b?.close();
      await owner?.destroy();
    } finally {
      await cluster?.destroy();
    }
  });

  const clusterOf = (t: TestApp) => t.deps.redis as Cluster;
  const anonymous = (t: TestApp, ip: string) => request(t.app).get(`/api/v1/nothing-here-${randomUUID().slice(0, 4)}`).set('X-Forwarded-For', ip);
  const remaining = (res: request.Response) => Number(/r=(\d+)/.exec(String(res.headers.ratelimit))?.[1]);
  const setAnonymousMax = (value: number | null) =>
    request(a.app).put('/api/v1/admin/config').set(bearer(superToken)).send({ rateLimitAnonymousMax: value }).expect(200);

  /** The primary (its port) holding a key, as the cluster's own slot map says. */
  async function portOf(key: string): Promise<number> {
    const slot = Number(await clusterOf(a).cluster('KEYSLOT', key));
    const [host] = clusterOf(a).slots[slot] ?? [];
    return Number(host?.split(':')[1]);
  }

  /** One client IP (in 10.0.0.0/8 by default) per primary: the anonymous counter of each lands on a different node. */
  async function ipsOnEveryNode(firstOctet = 10): Promise<Map<number, string>> {
    const byPort = new Map<number, string>();
    for (let i = 1; byPort.size < cluster.ports.length && i < 1_000; i++) {
      const ip = `${firstOctet}.${i >> 8}.${i & 255}.7`;
      const port = await portOf(`${prefix}rl:ip:${ip}`);
      if (!byPort.has(port)) byPort.set(port, ip);
    }
    return byPort;
  }

  /** The rate-limit keys each node holds, asked of each node itself. */
  async function keysByNode(pattern: string): Promise<Map<number, string[]>> {
    const found = new Map<number, string[]>();
    for (const port of cluster.ports) {
      found.set(port, (await cluster.cli(port, '--scan', '--pattern', pattern)).split('\n').filter(Boolean));
    }
    return found;
  }

  it('when the anonymous limit is lowered on A, then B applies it within its cache TTL, and each budget holds across both instances on every node', async () => {
    await setAnonymousMax(3);
    await eventually(async () => /q=3;/.test(String((await anonymous(b, '192.0.2.1')).headers['ratelimit-policy'])), 5_000, 'B applying the new limit');

    const ips = await ipsOnEveryNode();
    expect([...ips.keys()].sort()).toEqual([...cluster.ports].sort());
    for (const ip of ips.values()) {
      // Alternating instances: one count going down, 2, 1, 0, then both refuse.
      const answers = [await anonymous(a, ip), await anonymous(b, ip), await anonymous(a, ip)];
      expect(answers.map((res) => res.status)).toEqual([404, 404, 404]);
      expect(answers.map(remaining)).toEqual([2, 1, 0]);
      for (const t of [b, a]) {
        const refused = await anonymous(t, ip);
        expect(refused.status).toBe(429);
        expect(refused.body.error.code).toBe('RATE_LIMITED');
      }
    }

    // Each node holds the counter of the IP chosen for it, and no other.
    const keys = await keysByNode(`${prefix}rl:ip:10.*`);
    for (const [port, ip] of ips) expect(keys.get(port)).toEqual([`${prefix}rl:ip:${ip}`]);

    await setAnonymousMax(null);
    await eventually(async () => /q=100000;/.test(String((await anonymous(b, '192.0.2.1')).headers['ratelimit-policy'])), 5_000, 'B applying the reset');
  });

  it('when every node has lost the scripts (as after restarts), then the next requests still count, and sign-in is not refused', async () => {
    const account = await registerTenant(a.app);
    const ip = '198.51.100.9';
    const before = remaining(await anonymous(a, ip));
    for (const port of cluster.ports) {
      expect((await cluster.cli(port, 'script', 'flush')).trim()).toBe('OK');
      expect(cachedScripts(await cluster.cli(port, 'info', 'memory'))).toBe(0);
    }

    const after = await anonymous(b, ip);
    expect(after.status).toBe(404);
    expect(remaining(after)).toBe(before - 1);
    const signIn = await request(b.app).post('/api/v1/auth/login').send({ email: account.email, password: account.password });
    expect(signIn.status).toBe(200);
    // Loaded again on every primary, not only on the one whose NOSCRIPT set it off.
    for (const port of cluster.ports) expect(cachedScripts(await cluster.cli(port, 'info', 'memory'))).toBeGreaterThanOrEqual(1);
  });

  it('then the change bus is sharded pub/sub on one slot: both instances are subscribed at the primary owning it', async () => {
    const channel = `{${prefix}principal-changes}`;
    const port = await portOf(channel);
    const subscribers = (await cluster.cli(port, 'pubsub', 'shardnumsub', channel)).split('\n');
    expect(subscribers[1]).toBe('2');
  });

  it('when the user signs out on A, then B refuses the access token within a second', async () => {
    const account = await registerTenant(a.app);
    await heldBy(b, account.accessToken);
    expect((await request(a.app).post('/api/v1/auth/logout').set(account.auth)).status).toBe(204);
    expect(await answeredWithin(REVOCATION_BOUND_MS, () => request(b.app).get('/api/v1/auth/me').set(account.auth), (res) => res.status === 401)).toBeLessThanOrEqual(
      REVOCATION_BOUND_MS,
    );
  });

  it('when an admin disables a user on B, then A refuses that user within a second', async () => {
    const admin = await registerTenant(b.app);
    const member = await addMember(b.app, admin, 'sales_user');
    await heldBy(a, member.accessToken);
    expect((await request(b.app).patch(`/api/v1/users/${member.id}`).set(admin.auth).send({ status: 'disabled' })).status).toBe(200);
    expect(await answeredWithin(REVOCATION_BOUND_MS, () => request(a.app).get('/api/v1/auth/me').set(bearer(member.accessToken)), (res) => res.status === 401)).toBeLessThanOrEqual(
      REVOCATION_BOUND_MS,
    );
  });

  it("when a tenant calls both instances, then the console on A counts every call once, from the day's hash on the cluster", async () => {
    const account = await registerTenant(a.app);
    const calls = async () => {
      const res = await request(a.app).get('/api/v1/admin/usage').query({ tenantId: account.tenantId }).set(bearer(superToken));
      expect(res.status).toBe(200);
      return res.body.data[0].apiCalls.total.apiCalls as number;
    };
    const before = await calls();
    for (const t of [a, b, a, b]) expect((await request(t.app).get('/api/v1/auth/me').set(account.auth)).status).toBe(200);
    await eventually(async () => (await calls()) === before + 4, 15_000, 'the calls of both instances counted');
  });

  it('then neither instance logged a Redis warning or error (store, usage flush, change bus)', () => {
    const problems = [...a.logs, ...b.logs].filter((line) => (line.level === 'warn' || line.level === 'error') && /redis|store|usage|change bus/i.test(String(line.message)));
    expect(problems).toEqual([]);
  });

  // The two tests below change the topology.
  it('when the primary holding the bus and a counter fails over to its replica, then the budget goes on, and a sign-out reaches the other instance within a second, during and after the move', async () => {
    const channel = `{${prefix}principal-changes}`;
    const primary = await portOf(channel);
    const ip = (await ipsOnEveryNode(11)).get(primary)!;
    const replica = await cluster.addReplica(primary);
    // The clients add the replica to their maps (at their next slot refresh) and load the scripts on it too.
    await eventually(async () => cachedScripts(await cluster.cli(replica, 'info', 'memory')) >= 2, 15_000, 'the scripts loaded on the replica');
    const before = await anonymous(a, ip);
    const account = await registerTenant(a.app);
    await heldBy(b, account.accessToken);

    await cluster.failover(replica);
    // B's subscription is still on the old primary: the sign-out reaches B, or B stops trusting its memory.
    expect((await request(a.app).post('/api/v1/auth/logout').set(account.auth)).status).toBe(204);
    expect(await answeredWithin(REVOCATION_BOUND_MS, () => request(b.app).get('/api/v1/auth/me').set(account.auth), (res) => res.status === 401)).toBeLessThanOrEqual(
      REVOCATION_BOUND_MS,
    );
    const after = await anonymous(b, ip);
    expect([after.status, remaining(after)]).toEqual([404, remaining(before) - 1]);
    // The counter's slot is the promoted replica's, once A's client has refreshed its slot map (every 5 s).
    await eventually(async () => (await portOf(`${prefix}rl:ip:${ip}`)) === replica, 30_000, "A's slot map showing the promoted replica");

    // Once its bus vouches again (ioredis moved the subscription), B keeps callers in memory, and hears sign-outs.
    await trusted(b);
    const next = await registerTenant(a.app);
    await heldBy(b, next.accessToken);
    expect((await request(a.app).post('/api/v1/auth/logout').set(next.auth)).status).toBe(204);
    expect(await answeredWithin(REVOCATION_BOUND_MS, () => request(b.app).get('/api/v1/auth/me').set(next.auth), (res) => res.status === 401)).toBeLessThanOrEqual(
      REVOCATION_BOUND_MS,
    );
  }, 90_000);

  it('when a primary joins and the slot of a counter moves to it, then that budget keeps counting there, the scripts loaded on the new node before its first call', async () => {
    const ip = '203.0.113.5';
    const key = `${prefix}rl:ip:${ip}`;
    const first = await anonymous(a, ip);
    expect(first.status).toBe(404);
    const slot = Number(await clusterOf(a).cluster('KEYSLOT', key));
    const from = await portOf(key);
    const added = await cluster.addNode();
    await cluster.moveSlot(slot, from, added);
    expect((await cluster.cli(added, '--scan', '--pattern', key)).trim()).toBe(key);

    // Each instance's client meets MOVED, adds the node (`+node`: both scripts loaded on it) and follows.
    const next = [await anonymous(a, ip), await anonymous(b, ip)];
    expect(next.map((res) => res.status)).toEqual([404, 404]);
    expect(next.map(remaining)).toEqual([remaining(first) - 1, remaining(first) - 2]);
    expect(await portOf(key)).toBe(added);
    // Two: increment and get, as `+node` loads them; a NOSCRIPT recovery would have loaded only increment.
    expect(cachedScripts(await cluster.cli(added, 'info', 'memory'))).toBeGreaterThanOrEqual(2);
  });
});

const cachedScripts = (info: string) => Number(/number_of_cached_scripts:(\d+)/.exec(info)?.[1]);



