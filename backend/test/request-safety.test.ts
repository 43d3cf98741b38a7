import request from 'supertest';
import { login, registerTenant, Registered } from './support/api-fixtures';
import { buildTestApp, TestApp } from './support/test-app';

describe('request safety (sanitizer, content types)', () => {
  let t: TestApp;
  let account: Registered;
  beforeAll(async () => {
    t = buildTestApp();
    account = await registerTenant(t.app);
  });
  afterAll(() => t.close());

  const post = (body: unknown) => request(t.app).post('/api/v1/leads').set(account.auth).send(body as object);
  const fieldsOf = (res: request.Response) => res.body.error.details.map((d: { field: string }) => d.field);

  it.each([
    [{ lastName: 'X', $where: '1' }, '$where'],
    [{ lastName: 'X', 'attributes.admin': true }, 'attributes.admin'],
    [JSON.parse('{"lastName":"X","__proto__":{"admin":true}}'), '__proto__'],
    [{ lastName: 'X', attributes: { constructor: { prototype: 1 } } }, 'attributes.constructor'],
    [{ lastName: 'X', attributes: { nested: { $gt: 1 } } }, 'attributes.nested.$gt'],
  ])('when a body carries an operator or prototype key (%j), then 400 names it and nothing is stored', async (body, field) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toContain(field);
  });

  it('when a query string carries a prototype key, then 400', async () => {
    const res = await request(t.app).get('/api/v1/leads?constructor=1').set(account.auth);
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toContain('query.constructor');
  });

  it.each([['<script>alert(1)</script>'], ['<img src=x onerror=alert(1)>'], ['Hello </b>'], ['<!-- x -->']])(
    'when a text field holds markup (%s), then 400',
    async (markup) => {
      const res = await post({ lastName: 'X', notes: markup });
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([{ field: 'notes', message: 'must not contain HTML or script markup' }]);
    },
  );

  it('when text merely uses angle brackets, then it is stored as given', async () => {
    const res = await post({ lastName: 'X', notes: 'deal size < 5k, NPS <3, a -> b' });
    expect(res.status).toBe(201);
    expect(res.body.data.notes).toBe('deal size < 5k, NPS <3, a -> b');
  });

  it('when a password holds markup-like characters, then it is not refused as markup', async () => {
    const res = await login(t.app, { email: account.email, password: '<script>Pa55word' });
    expect(res.status).toBe(401);
  });

  it('when a body nests deeper than 20 levels, then 400', async () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 25; i++) deep = { level: deep };
    const res = await post({ lastName: 'X', attributes: deep });
    expect(res.status).toBe(400);
  });

  it.each([
    ['text/plain', 'lastName=X'],
    ['application/xml', '<lead><lastName>X</lastName></lead>'],
    ['application/x-www-form-urlencoded', 'lastName=X'],
  ])('when a write sends %s, then 415 UNSUPPORTED_MEDIA_TYPE', async (type, body) => {
    const res = await request(t.app).post('/api/v1/leads').set(account.auth).set('Content-Type', type).send(body);
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('when a DELETE has no body and no content type, then it is accepted', async () => {
    const lead = (await post({ lastName: 'Bodiless' })).body.data;
    expect((await request(t.app).delete(`/api/v1/leads/${lead.id}`).set(account.auth)).status).toBe(204);
  });
});
