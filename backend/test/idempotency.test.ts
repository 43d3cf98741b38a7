import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { REDACTED_SECRET } from '../src/modules/idempotency/idempotency.service';
import { addMember, registerTenant, Registered } from './support/api-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

describe('Idempotency-Key', () => {
  let t: TestApp;
  let owner: Knex;
  let account: Registered;
  beforeAll(async () => {
    t = buildTestApp();
    owner = ownerKnex();
    account = await registerTenant(t.app);
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  const leadsNamed = async (lastName: string) =>
    Number((await owner('leads').where({ tenant_id: account.tenantId, last_name: lastName }).count<{ count: string }[]>({ count: '*' }))[0]!.count);
  const createLead = (key: string, body: Record<string, unknown>, auth = account.auth) =>
    request(t.app).post('/api/v1/leads').set(auth).set('Idempotency-Key', key).send(body);

  it('when a POST is retried with the same key, then the first answer is replayed and nothing is written twice', async () => {
    const key = randomUUID();
    const lastName = `Once-${key}`;
    const first = await createLead(key, { lastName });
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await createLead(key, { lastName });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await leadsNamed(lastName)).toBe(1);
  });

  it('when a keyed request makes an API key, a webhook secret or an invitation, then none is stored in clear and a replay shows a placeholder', async () => {
    const keyed = (path: string, body: Record<string, unknown>, key = randomUUID()) =>
      request(t.app).post(`/api/v1${path}`).set(account.auth).set('Idempotency-Key', key).send(body);
    const idempotencyKey = randomUUID();
    const apiKey = await keyed('/api-keys', { name: 'Keyed', role: 'read_only' }, idempotencyKey);
    const webhook = await keyed('/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['lead.created'] });
    const invited = await keyed('/users', { email: `invitee-${randomUUID().slice(0, 8)}@example.com`, firstName: 'In', lastName: 'Vited', role: 'read_only' });
    expect([apiKey.status, webhook.status, invited.status, webhook.body.error]).toEqual([201, 201, 201, undefined]);
    const secrets = [apiKey.body.data.key, webhook.body.data.secret, invited.body.data.inviteToken] as string[];
    expect(secrets.map((secret) => typeof secret === 'string' && secret.length > 40)).toEqual([true, true, true]);

    const stored = JSON.stringify(await owner('idempotency_keys').where({ tenant_id: account.tenantId }).select('response_body', 'response_headers'));
    for (const secret of secrets) expect(stored).not.toContain(secret);

    const replay = await keyed('/api-keys', { name: 'Keyed', role: 'read_only' }, idempotencyKey);
    expect([replay.status, replay.headers['idempotent-replayed']]).toEqual([201, 'true']);
    expect(replay.body.data).toEqual({ ...apiKey.body.data, key: REDACTED_SECRET });
  });

  it('when the same key comes with a different request, then 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const key = randomUUID();
    await createLead(key, { lastName: `First-${key}` });
    const reused = await createLead(key, { lastName: `Second-${key}` });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await leadsNamed(`Second-${key}`)).toBe(0);
  });

  it('when 20 requests with one key arrive at once, then exactly one record is created', async () => {
    const key = randomUUID();
    const lastName = `Race-${key}`;
    const answers = await Promise.all(Array.from({ length: 20 }, () => createLead(key, { lastName })));
    const statuses = answers.map((res) => res.status);
    expect(statuses.filter((status) => status === 201).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((status) => status === 201 || status === 409)).toBe(true);
    for (const res of answers.filter((answer) => answer.status === 409)) expect(res.body.error.code).toBe('IDEMPOTENCY_IN_PROGRESS');
    expect(await leadsNamed(lastName)).toBe(1);
    const ids = new Set(answers.filter((res) => res.status === 201).map((res) => res.body.data.id));
    expect(ids.size).toBe(1);
  });

  it('when a keyed request fails with a 4xx, then the failure is the stored answer', async () => {
    const key = randomUUID();
    const body = { lastName: 'Ref', ownerId: randomUUID() };
    const first = await createLead(key, body);
    expect(first.status).toBe(400);
    const again = await createLead(key, body);
    expect(again.status).toBe(400);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.error.code).toBe('VALIDATION_ERROR');
  });

  it('when another caller of the tenant uses the same key, then it is a separate key', async () => {
    const key = randomUUID();
    const colleague = await addMember(t.app, account, 'manager');
    const lastName = `Shared-${key}`;
    expect((await createLead(key, { lastName })).status).toBe(201);
    const theirs = await createLead(key, { lastName }, colleague.auth);
    expect(theirs.status).toBe(201);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(await leadsNamed(lastName)).toBe(2);
  });

  it('when a second API instance receives the retry, then it replays from the shared database', async () => {
    const other = buildTestApp();
    try {
      const key = randomUUID();
      const first = await createLead(key, { lastName: `Across-${key}` });
      const replay = await request(other.app).post('/api/v1/leads').set(account.auth).set('Idempotency-Key', key).send({ lastName: `Across-${key}` });
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(first.body);
    } finally {
      await other.close();
    }
  });

  it('when PATCH and DELETE carry keys, then their replays answer the first result', async () => {
    const lead = (await createLead(randomUUID(), { lastName: 'Patchable' })).body.data;
    const patchKey = randomUUID();
    const patch = () => request(t.app).patch(`/api/v1/leads/${lead.id}`).set(account.auth).set('Idempotency-Key', patchKey).send({ score: 42 });
    expect((await patch()).body.data.score).toBe(42);
    expect((await patch()).headers['idempotent-replayed']).toBe('true');
    const deleteKey = randomUUID();
    const remove = () => request(t.app).delete(`/api/v1/leads/${lead.id}`).set(account.auth).set('Idempotency-Key', deleteKey);
    expect((await remove()).status).toBe(204);
    const replayed = await remove();
    expect(replayed.status).toBe(204);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
  });

  it('when the key is longer than 255 characters, then 400 and nothing is written', async () => {
    const lastName = `Long-${randomUUID()}`;
    const res = await createLead('k'.repeat(256), { lastName });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].field).toBe('Idempotency-Key');
    expect(await leadsNamed(lastName)).toBe(0);
  });

  it('when the key has expired, then it is used afresh', async () => {
    const key = randomUUID();
    const lastName = `Expired-${key}`;
    await createLead(key, { lastName });
    await owner('idempotency_keys').where({ tenant_id: account.tenantId, key }).update({ expires_at: owner.raw("now() - interval '1 second'") });
    const fresh = await createLead(key, { lastName });
    expect(fresh.status).toBe(201);
    expect(fresh.headers['idempotent-replayed']).toBeUndefined();
    expect(await leadsNamed(lastName)).toBe(2);
  });
});
