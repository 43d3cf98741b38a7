import request from 'supertest';
import type express from 'express';
import { CapricornSimulator } from '../../src/modules/parts/capricorn-simulator';
import { Registered } from './api-fixtures';

/**
 * The supplier for the tests: the repository's Capricorn EDI simulator (docs/SUPPLIER-PROTOCOL.md) on a
 * port of its own, reached by the real adapter over HTTP, with its faults (outage status, delay, lost
 * answers) set per test and cleared by `reset`.
 */
export class CapricornDouble extends CapricornSimulator {
  reset(): void {
    Object.assign(this.faults, { status: null, delayMs: 0, loseOrderAnswers: 0 });
  }

  /** Requests of one method and path prefix it received. */
  received(method: string, pathPrefix: string) {
    return this.requests.filter((entry) => entry.method === method && entry.path.startsWith(pathPrefix));
  }

  /** The tenant's capricorn_edi integration pointing at this double. */
  async connect(app: express.Express, tenant: Registered, customerId = `C-${tenant.tenantId.slice(0, 8)}`): Promise<void> {
    const res = await request(app)
      .post('/api/v1/integrations')
      .set(tenant.auth)
      .send({ type: 'capricorn_edi', name: 'Capricorn', config: { apiKey: 'cap-test-key-0123456789', customerId, baseUrl: this.url } });
    if (res.status !== 201) throw new Error(`integration failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
}
