import { randomUUID } from 'node:crypto';
import express from 'express';
import Joi from 'joi';
import { Knex } from 'knex';
import request from 'supertest';
import winston from 'winston';
import { Writable } from 'node:stream';
import { createLogger } from '../src/infra/logger';
import { createMetrics } from '../src/infra/metrics';
import { withTenant } from '../src/infra/tenant-scope';
import { assertRoutesValid } from '../src/http/build-router';
import { created, defineRoute, noContent, ok, RouteDefinition } from '../src/http/route';
import { createRateLimiters } from '../src/middleware/rate-limits';
import { isKnownPermission } from '../src/modules/roles/permissions';
import { buildPipeline } from '../src/pipeline/pipeline';
import { createTenantFixture, runtimeKnex, TenantFixture, testConfig } from './support/test-app';

/** The declaration mechanism alone, in the real pipeline and with a real database behind it. */
describe('route declarations', () => {
  let knex: Knex;
  let tenant: TenantFixture;
  let app: express.Express;
  const logged: string[] = [];

  const routes: RouteDefinition[] = [
    defineRoute({
      method: 'post',
      path: '/widgets/:id',
      permission: 'public',
      summary: 'Validates params, query and body',
      tags: ['Test'],
      schema: {
        params: Joi.object({ id: Joi.string().uuid().required() }),
        query: Joi.object({ limit: Joi.number().integer().min(1).max(500).default(50) }),
        body: Joi.object({ name: Joi.string().max(20).required(), size: Joi.number().integer() }),
      },
      handler: async (input) => created({ params: input.params, query: input.query, body: input.body }),
    }),
    defineRoute({
      method: 'get',
      path: '/bare',
      permission: 'public',
      summary: 'No schema: no query, no body',
      tags: ['Test'],
      handler: async () => ok({ fine: true }),
    }),
    defineRoute({
      method: 'delete',
      path: '/bare',
      permission: 'public',
      summary: 'Empty answer',
      tags: ['Test'],
      handler: async () => noContent(),
    }),
    defineRoute({
      method: 'get',
      path: '/private',
      permission: 'leads:read',
      summary: 'Needs an authenticated tenant caller',
      tags: ['Test'],
      handler: async () => ok('secret'),
    }),
    defineRoute({
      method: 'post',
      path: '/duplicate-user',
      permission: 'public',
      summary: 'Violates a unique constraint for real',
      tags: ['Test'],
      handler: async () => {
        await withTenant(knex, tenant.tenantId, async (trx) => {
          const email = `dup-${randomUUID()}@example.com`;
          const { id: roleId } = await trx('roles').first('id');
          await trx('users').insert({ tenantId: tenant.tenantId, email, firstName: 'A', lastName: 'B', roleId });
          await trx('users').insert({ tenantId: tenant.tenantId, email, firstName: 'A', lastName: 'B', roleId });
        });
        return ok('unreachable');
      },
    }),
    defineRoute({
      method: 'post',
      path: '/not-null',
      permission: 'public',
      summary: 'Violates a not-null constraint for real',
      tags: ['Test'],
      handler: async () => {
        await withTenant(knex, tenant.tenantId, (trx) => trx('accounts').insert({ tenantId: tenant.tenantId, name: null }));
        return ok('unreachable');
      },
    }),
    defineRoute({
      method: 'get',
      path: '/boom',
      permission: 'public',
      summary: 'An unexpected error with secrets in it',
      tags: ['Test'],
      handler: async () => {
        throw new Error('select * from users where password = hunter2');
      },
    }),
  ];

  beforeAll(async () => {
    knex = runtimeKnex();
    tenant = await createTenantFixture(knex);
    const logger = createLogger('info');
    logger.clear();
    logger.add(new winston.transports.Stream({ stream: new Writable({ write: (c, _e, done) => (logged.push(String(c)), done()) }) }));
    const deps = { config: testConfig(), knex, platformKnex: knex, logger, metrics: createMetrics(knex), lifecycle: { draining: false } };
    app = buildPipeline(deps, createRateLimiters(deps), routes);
  });
  afterAll(() => knex.destroy());

  it('when input is valid, then the handler gets converted params, query with defaults and the body', async () => {
    const id = randomUUID();
    const res = await request(app).post(`/api/v1/widgets/${id}`).send({ name: 'w', size: 3 });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ data: { params: { id }, query: { limit: 50 }, body: { name: 'w', size: 3 } } });
  });

  it('when reached through the /api alias, then it is the same route', async () => {
    const res = await request(app).post(`/api/widgets/${randomUUID()}?limit=7`).send({ name: 'w' });
    expect(res.status).toBe(201);
    expect(res.body.data.query).toEqual({ limit: 7 });
  });

  it('when params, query and body are all wrong, then one 400 lists every field', async () => {
    const res = await request(app).post('/api/v1/widgets/not-a-uuid?limit=0').send({ name: 'x'.repeat(21), size: 'big' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    const fields = res.body.error.details.map((d: { field: string }) => d.field).sort();
    expect(fields).toEqual(['name', 'params.id', 'query.limit', 'size']);
  });

  it('when the body has an unknown field or a missing required one, then 400 and nothing runs', async () => {
    const res = await request(app).post(`/api/v1/widgets/${randomUUID()}`).send({ name: 'w', tenantId: randomUUID() });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ field: 'tenantId', message: expect.stringContaining('not allowed') }]);
    const missing = await request(app).post(`/api/v1/widgets/${randomUUID()}`).send({});
    expect(missing.body.error.details).toEqual([{ field: 'name', message: expect.stringContaining('required') }]);
  });

  it('when a route declares no query or body, then unknown query parameters and any body are refused', async () => {
    expect((await request(app).get('/api/v1/bare')).status).toBe(200);
    const query = await request(app).get('/api/v1/bare?surprise=1');
    expect(query.status).toBe(400);
    expect(query.body.error.details[0].field).toBe('query.surprise');
    expect((await request(app).delete('/api/v1/bare').send({ a: 1 })).status).toBe(400);
    expect((await request(app).delete('/api/v1/bare')).status).toBe(204);
  });

  it('when a permissioned route is called without authentication, then 401 UNAUTHORIZED', async () => {
    const res = await request(app).get('/api/v1/private');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHORIZED');
  });

  it('when the database reports a unique violation, then 409 CONFLICT names the field, not the value', async () => {
    const res = await request(app).post('/api/v1/duplicate-user');
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'CONFLICT', details: [{ field: 'email' }] });
    expect(JSON.stringify(res.body)).not.toMatch(/dup-|tenant_id|users_/);
  });

  it('when the database reports a not-null violation, then 400 VALIDATION_ERROR names the field', async () => {
    const res = await request(app).post('/api/v1/not-null');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: [{ field: 'name' }] });
  });

  it('when a handler fails unexpectedly, then 500 reveals nothing and the log keeps the cause', async () => {
    const res = await request(app).get('/api/v1/boom');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      error: { code: 'INTERNAL_ERROR', message: 'An unexpected error occurred', requestId: res.headers['x-request-id'] },
    });
    expect(logged.join('\n')).toContain('hunter2');
  });

  describe('at startup', () => {
    const base = { method: 'get' as const, summary: 's', tags: ['t'], handler: async () => ok(null) };

    it('when a route declares no permission, then registration fails', () => {
      const undeclared = { ...base, path: '/x' } as unknown as RouteDefinition;
      expect(() => assertRoutesValid([undeclared], isKnownPermission)).toThrow(/declares no permission/);
    });

    it('when a permission is malformed, unknown, or a route is declared twice, then registration fails', () => {
      expect(() => assertRoutesValid([{ ...base, path: '/x', permission: 'Leads-Read' as never }], isKnownPermission)).toThrow(/malformed/);
      expect(() => assertRoutesValid([{ ...base, path: '/x', permission: 'leads:fly' }], isKnownPermission)).toThrow(/unknown permission/);
      const route = { ...base, path: '/x', permission: 'public' as const };
      expect(() => assertRoutesValid([route, route], isKnownPermission)).toThrow(/declared twice/);
      expect(() => assertRoutesValid([{ ...base, path: '/x', permission: 'leads:read' }], isKnownPermission)).not.toThrow();
    });
  });
});
