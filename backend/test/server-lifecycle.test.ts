import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/lib/project-root';
import { privateCheckout, PrivateCheckout } from './support/private-checkout';
import { freePort } from './support/private-servers';
import { runServerToExit, ServerProcess, startServer } from './support/server-process';
import { adminUrl } from './support/test-app';

/** The real entry point, as `npm start` and the Docker image run it. */
describe('server process', () => {
  it('when a required setting is bad, then boot stops with exit 1 and a message naming the variable', async () => {
    const { code, output } = await runServerToExit({ NODE_ENV: 'production', DATABASE_URL: adminUrl(), PORT: 'x' });
    expect(code).toBe(1);
    expect(output).toContain('"PORT" must be a number');
    expect(output).toContain('"JWT_SECRET" is required in production');
  });

  it('when the embedded PostgreSQL cannot start, then boot stops with exit 1 and one line saying what and how to fix it', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-port-taken-'));
    fs.chmodSync(dataDir, 0o755);
    const taken = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => taken.once('listening', resolve));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      const { code, output } = await runServerToExit({ EMBEDDED_PG_DIR: path.join(dataDir, 'postgres'), EMBEDDED_PG_PORT: String(port), LOG_LEVEL: 'error' });
      expect(code).toBe(1);
      expect(output.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^Startup failed: The embedded PostgreSQL \\(data .*, port ${port}\\) did not start: FATAL: .* HINT: Is another postmaster already running on port ${port}\\?`))]);
    } finally {
      taken.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  describe('when `npm start` runs against DATABASE_URL', () => {
    let server: ServerProcess;
    beforeAll(async () => {
      // Jobs in process, as `npm start` runs them (the queue is this file's own).
      server = await startServer(
        { DATABASE_URL: adminUrl(), REDIS_URL: process.env.REDIS_URL, LOG_LEVEL: 'info', JOBS_IN_PROCESS: 'true' },
        { npmStartIn: PROJECT_ROOT },
      );
    });
    afterAll(() => {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    });

    it('then it serves, logs JSON lines, and on Ctrl-C finishes the in-flight request, stops its parts in order and exits 0', async () => {
      const ready = await get(server.port, '/ready');
      expect(ready.status).toBe(200);

      // A request whose body is still arriving when Ctrl-C lands: it must complete, not be cut.
      const inFlight = slowPost(server.port, '/api/v1/slow-upload');
      await inFlight.started;
      // Sent is not yet received: a later request answered means the server has taken this one (FIFO accept).
      expect((await get(server.port, '/live')).status).toBe(200);
      server.interrupt();
      await server.waitFor('"message":"shutting down: draining in-flight requests"');
      inFlight.finishBody();
      const answer = await inFlight.response;
      expect(answer.status).toBe(404);
      expect(JSON.parse(answer.body).error.code).toBe('NOT_FOUND');

      expect(await server.exited).toBe(0);
      const lines = server.output().split('\n').filter((line) => line.startsWith('{'));
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
      expect(stopLog(server.output())).toEqual({
        parts: ['live event streams', 'http server', 'usage counters', 'job engine', 'principal revocation', 'database pools', ...(process.env.REDIS_URL ? ['redis'] : [])],
        complaints: [],
        complete: true,
      });
      await expect(get(server.port, '/live')).rejects.toThrow();
    });
  });

  const asRoot = process.getuid?.() === 0;
  (asRoot ? describe : describe.skip)(
    asRoot
      ? 'npm start as root, from a checkout in a mode-700 folder, with no DATABASE_URL'
      : 'npm start as root from a mode-700 folder: skipped, this run is not root (only root must hand PostgreSQL to another OS user)',
    () => {
      let checkout: PrivateCheckout;
      let clusterDir: string | undefined;
      beforeAll(() => {
        checkout = privateCheckout();
      });
      afterAll(() => {
        checkout.remove();
        if (clusterDir) fs.rmSync(clusterDir, { recursive: true, force: true });
      });

      it('then PostgreSQL runs as the postgres user where that user can reach it, the demo logins sign in, and SIGTERM stops everything in order, silently, with exit 0', async () => {
        const server = await startServer({ EMBEDDED_PG_PORT: String(await freePort()), JOBS_IN_PROCESS: 'true' }, { npmStartIn: checkout.dir, timeoutMs: 180_000 });
        try {
          const moved = logLines(server.output()).find((line) => line.message === 'the postgres user cannot reach the data directory asked for: the embedded cluster lives elsewhere');
          expect(moved).toMatchObject({ requested: path.join(checkout.dir, '.data', 'postgres'), dir: expect.stringMatching(/^\/var\/tmp\/crm-embedded-postgres\/data-/) });
          clusterDir = String(moved!.dir);
          expect(fs.statSync(clusterDir).uid).not.toBe(0);
          expect((await get(server.port, '/ready')).status).toBe(200);
          const signIn = await post(server.port, '/api/v1/auth/login', { email: 'tenant.admin@globex.example.com', password: 'DemoPass123' });
          expect(signIn.status).toBe(200);
        } finally {
          server.child.kill('SIGTERM');
        }
        expect(await server.exited).toBe(0);
        expect(stopLog(server.output())).toEqual({
          parts: ['live event streams', 'http server', 'usage counters', 'job engine', 'principal revocation', 'database pools', 'embedded PostgreSQL'],
          complaints: [],
          complete: true,
        });
      }, 240_000);
    },
  );
});

const logLines = (output: string): Array<Record<string, unknown>> =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** From the signal on: the parts stopped, in order; any warn or error line; whether shutdown completed. */
function stopLog(output: string) {
  const lines = logLines(output);
  const from = lines.findIndex((line) => line.message === 'shutting down: draining in-flight requests');
  const after = lines.slice(from);
  return {
    parts: after.filter((line) => line.message === 'stopped').map((line) => line.part),
    // Lines of the requests drained meanwhile carry their request id (their 4xx is logged at warn): the stop's own carry none.
    complaints: after.filter((line) => (line.level === 'warn' || line.level === 'error') && line.requestId === undefined),
    complete: from >= 0 && after.some((line) => line.message === 'shutdown complete'),
  };
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function post(port: number, path: string, body: object): Promise<{ status: number }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status };
}

function slowPost(port: number, path: string) {
  let started!: () => void;
  const startedPromise = new Promise<void>((resolve) => (started = resolve));
  const req = http.request({
    host: '127.0.0.1',
    port,
    path,
    method: 'POST',
    agent: false,
    headers: { 'Content-Type': 'application/json', 'Content-Length': '11' },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  req.write('{"a":', () => started());
  return { started: startedPromise, finishBody: () => req.end('"xyz"}'), response };
}
