import request from 'supertest';
import { eventually } from './support/eventually';
import { buildTestApp, TestApp } from './support/test-app';

describe('the request chain (request id, logging, security headers, CORS, body limits, errors)', () => {
  let t: TestApp;
  const allowedOrigin = 'https://app.example.com';

  beforeAll(() => {
    t = buildTestApp({ env: { CORS_ORIGINS: `${allowedOrigin}, https://admin.example.com` } });
  });
  afterAll(() => t.close());

  describe('request id', () => {
    it('when the client sends a sane X-Request-Id, then it is echoed and used in the log line', async () => {
      const res = await request(t.app).get('/live').set('X-Request-Id', 'client-id_1.2:3');
      expect(res.headers['x-request-id']).toBe('client-id_1.2:3');
      await eventually(() => t.logs.some((line) => line.requestId === 'client-id_1.2:3'));
      const line = t.logs.find((entry) => entry.requestId === 'client-id_1.2:3')!;
      expect(line).toMatchObject({ message: 'request', method: 'GET', path: '/live', route: '/live', status: 200 });
      expect(typeof line.durationMs).toBe('number');
    });

    it.each([['has spaces'], ['x'.repeat(129)], ['<script>'], ['line\\nbreak']])(
      'when the given id is not sane (%s), then a fresh UUID replaces it',
      async (given) => {
        const res = await request(t.app).get('/live').set('X-Request-Id', given);
        expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      },
    );

    it('when no id is given, then every answer (errors included) carries a generated one', async () => {
      const res = await request(t.app).get('/api/v1/does-not-exist');
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.body.error.requestId).toBe(res.headers['x-request-id']);
    });
  });

  describe('security headers', () => {
    it('when any route answers, then HSTS, CSP, nosniff, frame deny and referrer policy are set, X-Powered-By is not', async () => {
      const res = await request(t.app).get('/live');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=31536000; includeSubDomains/);
      expect(res.headers['content-security-policy']).toContain("default-src 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-powered-by']).toBeUndefined();
    });
  });

  describe('CORS', () => {
    it('when the origin is on the allow-list, then the browser may read the answer and its headers', async () => {
      const res = await request(t.app).get('/live').set('Origin', allowedOrigin);
      expect(res.headers['access-control-allow-origin']).toBe(allowedOrigin);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-expose-headers']).toContain('X-Request-Id');
    });

    it('when a preflight comes from an allowed origin, then it lists the methods and client headers', async () => {
      const res = await request(t.app)
        .options('/api/v1/leads')
        .set('Origin', allowedOrigin)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'Idempotency-Key, Authorization');
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-methods']).toContain('PATCH');
      expect(res.headers['access-control-allow-headers']).toContain('Idempotency-Key');
    });

    it('when the origin is not allowed, then no CORS header is given', async () => {
      const res = await request(t.app).get('/live').set('Origin', 'https://evil.example.net');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    });
  });

  describe('bodies and errors', () => {
    it('when the JSON is malformed, then 400 INVALID_JSON in the envelope', async () => {
      const res = await request(t.app).post('/api/v1/anything').set('Content-Type', 'application/json').send('{"a":');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: { code: 'INVALID_JSON', message: expect.any(String), requestId: res.headers['x-request-id'] },
      });
    });

    it('when the JSON body is over 1 MB, then 413 PAYLOAD_TOO_LARGE', async () => {
      const big = JSON.stringify({ blob: 'x'.repeat(1024 * 1024 + 1) });
      const res = await request(t.app).post('/api/v1/anything').set('Content-Type', 'application/json').send(big);
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('when the route does not exist, on /api/v1 or the /api alias, then 404 NOT_FOUND', async () => {
      for (const path of ['/api/v1/nope', '/api/nope', '/nope']) {
        const res = await request(t.app).get(path);
        expect(res.status).toBe(404);
        expect(res.body.error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(path) });
        expect(res.headers['content-type']).toMatch(/application\/json/);
      }
    });

    it('when a request carries a password, then no log line contains it', async () => {
      await request(t.app)
        .post('/api/v1/auth/login')
        .send({ email: 'someone@example.com', password: 'Sup3r-Secret-Value' })
        .set('Authorization', 'Bearer secret-token-value');
      await eventually(() => t.logs.length > 0);
      const everything = JSON.stringify(t.logs);
      expect(everything).not.toContain('Sup3r-Secret-Value');
      expect(everything).not.toContain('secret-token-value');
    });
  });
});
