import http from 'node:http';
import { adminUrl } from './support/test-app';
import { runServerToExit, ServerProcess, startServer } from './support/server-process';

/** The real entry point, as `npm start` and the Docker image run it. */
describe('server process', () => {
  it('when a required setting is bad, then boot stops with exit 1 and a message naming the variable', async () => {
    const { code, output } = await runServerToExit({ NODE_ENV: 'production', DATABASE_URL: adminUrl(), PORT: 'x' });
    expect(code).toBe(1);
    expect(output).toContain('"PORT" must be a number');
    expect(output).toContain('"JWT_SECRET" is required in production');
  });

  describe('when running against DATABASE_URL', () => {
    let server: ServerProcess;
    beforeAll(async () => {
      server = await startServer({ DATABASE_URL: adminUrl(), REDIS_URL: process.env.REDIS_URL, LOG_LEVEL: 'info' });
    });
    afterAll(() => {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    });

    it('then it serves, logs JSON lines, and on SIGTERM finishes the in-flight request before exiting 0', async () => {
      const ready = await get(server.port, '/ready');
      expect(ready.status).toBe(200);

      // A request whose body is still arriving when SIGTERM lands: it must complete, not be cut.
      const inFlight = slowPost(server.port, '/api/v1/slow-upload');
      await inFlight.started;
      // Sent is not yet received: a later request answered means the server has taken this one (FIFO accept).
      expect((await get(server.port, '/live')).status).toBe(200);
      server.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      inFlight.finishBody();
      const answer = await inFlight.response;
      expect(answer.status).toBe(404);
      expect(JSON.parse(answer.body).error.code).toBe('NOT_FOUND');

      expect(await server.exited).toBe(0);
      const lines = server.output().split('\n').filter((line) => line.startsWith('{'));
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
      expect(server.output()).toContain('"message":"shutdown complete"');
      await expect(get(server.port, '/live')).rejects.toThrow();
    });
  });
});

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
