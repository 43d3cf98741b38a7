import http from 'node:http';
import { AddressInfo, Socket, connect } from 'node:net';
import { Knex } from 'knex';
import request from 'supertest';
import { runtimeCredentials } from '../src/infra/db-roles';
import { registerTenant, Registered } from './support/api-fixtures';
import { eventually } from './support/eventually';
import { adminUrl, buildTestApp, ownerKnex, runtimeKnex, TestApp } from './support/test-app';

/**
 * Downloads and imports that last (slow or stalled clients) against one instance: they must never hold the
 * pool hostage, and each tenant has a few at a time. A real listening server, so that a client can stop
 * reading (or sending) at the socket.
 */
describe('downloads and imports that last', () => {
  /** Rows of ~4 KB: one tenant's export is ~6 MB, more than the socket buffers of a client that does not read. */
  const FAT_LEADS = 1500;
  let owner: Knex;
  let heavy: Registered;
  let others: Registered[];

  const listen = async (t: TestApp) => {
    const server = http.createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, port: (server.address() as AddressInfo).port };
  };

  /** A request whose answer is never read past its status line: the client stops reading, as a stalled download does. */
  const stalledGet = (port: number, path: string, auth: { Authorization: string }) =>
    new Promise<{ status: number; socket: Socket; closed: Promise<void> }>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      const closed = new Promise<void>((done) => socket.once('close', () => done()));
      socket.once('error', reject);
      socket.once('data', (first: Buffer) => {
        socket.pause();
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(first.toString('latin1'))?.[1]), socket, closed });
      });
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth.Authorization}\r\nConnection: close\r\n\r\n`);
    });

  /**
   * Sessions of the runtime role left in an open transaction for over a second: what a slow client must
   * never cause (other test files share the role; their transactions pause between statements for far less).
   */
  const idleInTransaction = async () => {
    const { rows } = await owner.raw<{ rows: Array<{ count: string }> }>(
      "select count(*) from pg_stat_activity where usename = ? and state like 'idle in transaction%' and state_change < now() - interval '1 second'",
      [runtimeCredentials(adminUrl()).user],
    );
    return Number(rows[0]!.count);
  };

  const within = <T>(promise: Promise<T>, ms: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });

  const timedList = async (port: number, auth: { Authorization: string }) => {
    const started = performance.now();
    const res = await request(`http://127.0.0.1:${port}`).get('/api/v1/leads').query({ limit: 50 }).set(auth);
    return { status: res.status, ms: performance.now() - started };
  };
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

  beforeAll(async () => {
    owner = ownerKnex();
    const setup = buildTestApp();
    try {
      heavy = await registerTenant(setup.app);
      others = [await registerTenant(setup.app), await registerTenant(setup.app)];
      const notes = 'n'.repeat(4000);
      const rows = Array.from({ length: FAT_LEADS }, (_, index) => ({ firstName: `Fat ${index}`, lastName: 'Lead', notes }));
      const imported = await request(setup.app).post('/api/v1/leads/import/bulk').set(heavy.auth).send(rows);
      expect(imported.status).toBe(201);
      for (const other of others) await request(setup.app).post('/api/v1/leads').set(other.auth).send({ firstName: 'Other' }).expect(201);
    } finally {
      await setup.close();
    }
  }, 120_000);
  afterAll(async () => {
    await owner.destroy();
  });

  describe('when one tenant stalls 16 CSV exports', () => {
    let t: TestApp;
    let port: number;
    let server: http.Server;
    beforeAll(async () => {
      t = buildTestApp({ env: { DOWNLOADS_PER_TENANT: '16', DOWNLOAD_STALL_SECONDS: '300' } });
      ({ server, port } = await listen(t));
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await t.close();
    });

    it('then every other tenant is answered as fast as before, and no connection waits in a transaction', async () => {
      const baseline: number[] = [];
      for (let round = 0; round < 10; round += 1) {
        for (const other of others) {
          const answer = await timedList(port, other.auth);
          expect(answer.status).toBe(200);
          baseline.push(answer.ms);
        }
      }

      const stalled = await Promise.all(Array.from({ length: 16 }, () => stalledGet(port, '/api/v1/leads/export/csv', heavy.auth)));
      try {
        expect(stalled.map((download) => download.status)).toEqual(Array(16).fill(200));
        const ended: number[] = [];
        stalled.forEach((download, index) => void download.closed.then(() => ended.push(index)));
        // Each has read its first page and filled its client's socket: from now on they only wait.
        const waiting = async () => /^downloads_in_progress\{state="waiting_on_client"\} (\d+)$/m.exec((await request(`http://127.0.0.1:${port}`).get('/metrics')).text)?.[1];
        await eventually(async () => (await waiting()) === '16', 60_000, 'all 16 exports waiting on their clients');

        const during: Array<{ status: number; ms: number }> = [];
        for (let round = 0; round < 5; round += 1) {
          // Two at once per tenant, as a browser would.
          during.push(...(await Promise.all(others.flatMap((other) => [timedList(port, other.auth), timedList(port, other.auth)]))));
        }
        expect(during.map((answer) => answer.status)).toEqual(Array(during.length).fill(200));
        const times = during.map((answer) => answer.ms);
        expect(median(times)).toBeLessThan(3 * median(baseline) + 250);
        expect(Math.max(...times)).toBeLessThan(4 * Math.max(...baseline) + 1000);
        expect(await idleInTransaction()).toBe(0);
        // The exports were still waiting on their clients all along.
        expect(ended).toEqual([]);
      } finally {
        for (const download of stalled) download.socket.destroy();
      }
    });
  });

  describe('when a tenant reaches its caps', () => {
    let t: TestApp;
    let port: number;
    let server: http.Server;
    beforeAll(async () => {
      t = buildTestApp({ env: { DOWNLOADS_PER_TENANT: '2', DOWNLOAD_STALL_SECONDS: '1', IMPORTS_PER_TENANT: '2' } });
      ({ server, port } = await listen(t));
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await t.close();
    });
    const api = () => request(`http://127.0.0.1:${port}`);
    /** The status of a fresh export, its body left unread and the connection closed. */
    const answerStatus = async (auth: { Authorization: string }) => {
      const probe = await stalledGet(port, '/api/v1/leads/export/csv', auth);
      probe.socket.destroy();
      await probe.closed;
      return probe.status;
    };

    it('then one more download answers 429 with Retry-After, and a client that stops reading is cut off, freeing its slot', async () => {
      const stalled = [await stalledGet(port, '/api/v1/leads/export/csv', heavy.auth), await stalledGet(port, '/api/v1/leads/export/csv', heavy.auth)];
      try {
        expect(stalled.map((download) => download.status)).toEqual([200, 200]);
        const refused = await api().get('/api/v1/leads/export/csv').set(heavy.auth);
        expect(refused.status).toBe(429);
        expect(refused.body.error.code).toBe('RATE_LIMITED');
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
        // The cap is per tenant.
        expect(await answerStatus(others[0]!.auth)).toBe(200);

        // Each export has ~6 MB for a client that takes none of it after the first bytes: cut off after 1 s,
        // which frees its slot. Reading on then finds the answer cut short (no last chunk). The probes read
        // only the status line: a probe reading 6 MB could itself be cut off while a loaded machine starves
        // the test process for a second.
        await eventually(async () => (await answerStatus(heavy.auth)) === 200, 20_000, 'a slot freed by a cut-off');
        const received: Buffer[] = [];
        stalled[0]!.socket.on('data', (chunk: Buffer) => received.push(chunk));
        stalled[0]!.socket.resume();
        await within(stalled[0]!.closed, 20_000, 'the cut-off connection to close');
        const text = Buffer.concat(received).toString('utf8');
        expect(text.length).toBeGreaterThan(0);
        expect(text.endsWith('\r\n0\r\n\r\n')).toBe(false);
      } finally {
        for (const download of stalled) download.socket.destroy();
      }
    });

    it('then one more import answers 429 while two uploads are still coming, and no connection waits on them', async () => {
      const csv = 'firstName,lastName\nSlow,Upload\n';
      const uploads = Array.from({ length: 2 }, () => {
        const socket = connect(port, '127.0.0.1');
        const answered = new Promise<string>((resolve) => {
          let text = '';
          socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
          socket.once('close', () => resolve(text));
        });
        // The head and half of the body: the server waits for the rest.
        socket.write(
          `POST /api/v1/leads/import/bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${heavy.auth.Authorization}\r\n` +
            `Content-Type: text/csv\r\nContent-Length: ${Buffer.byteLength(csv)}\r\nConnection: close\r\n\r\n${csv.slice(0, 12)}`,
        );
        return { socket, answered };
      });
      try {
        const dryRun = () => api().post('/api/v1/leads/import/bulk').query({ dryRun: true }).set(heavy.auth).set('Content-Type', 'text/csv').send(csv);
        await eventually(async () => (await dryRun()).status === 429, 15_000, 'the third import to be refused');
        const refused = await dryRun();
        expect([refused.status, refused.body.error.code]).toEqual([429, 'RATE_LIMITED']);
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
        expect((await api().post('/api/v1/leads/import/bulk').query({ dryRun: true }).set(others[0]!.auth).send([{ firstName: 'Other' }])).status).toBe(200);
        expect((await timedList(port, others[1]!.auth)).status).toBe(200);
        expect(await idleInTransaction()).toBe(0);

        // Once an upload completes, it is imported, and its slot is free again.
        uploads[0]!.socket.write(csv.slice(12));
        expect(await uploads[0]!.answered).toMatch(/^HTTP\/1\.1 201 /);
        expect((await dryRun()).status).toBe(200);
      } finally {
        for (const upload of uploads) upload.socket.destroy();
      }
    });
  });

  it('when the runtime role connects, then PostgreSQL ends a transaction left idle for a minute', async () => {
    const runtime = runtimeKnex(1);
    try {
      const { rows } = await runtime.raw<{ rows: Array<{ timeout: string }> }>("select current_setting('idle_in_transaction_session_timeout') as timeout");
      expect(rows[0]!.timeout).toBe('1min');
    } finally {
      await runtime.destroy();
    }
  });
});
