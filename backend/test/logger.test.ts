import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger } from '../src/infra/logger';
import { runWithRequestContext } from '../src/infra/request-context';
import { PROJECT_ROOT } from '../src/lib/project-root';

function capture(): { logger: winston.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('debug');
  logger.clear();
  logger.add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      }),
    }),
  );
  return { logger, lines };
}

describe('structured logging', () => {
  it('when a line is logged inside a request, then it is JSON carrying the request id', () => {
    const { logger, lines } = capture();
    runWithRequestContext({ requestId: 'req-42', tenantId: 't-1' }, () => logger.info('inside'));
    logger.info('outside');
    expect(lines[0]).toMatchObject({ message: 'inside', requestId: 'req-42', tenantId: 't-1', level: 'info' });
    expect(lines[0]!.timestamp).toEqual(expect.any(String));
    expect(lines[1]!.requestId).toBeUndefined();
  });

  it('when metadata holds secrets at any depth, then they are redacted', () => {
    const { logger, lines } = capture();
    logger.info('login', {
      password: 'p4ss',
      body: { user: { email: 'a@b.c', newPassword: 'n3w', apiKey: 'crm_live_x' } },
      headers: { authorization: 'Bearer abc', cookie: 'refresh=xyz' },
      refreshToken: 'r',
    });
    const text = JSON.stringify(lines[0]);
    for (const secret of ['p4ss', 'n3w', 'crm_live_x', 'Bearer abc', 'refresh=xyz', '"r"']) expect(text).not.toContain(secret);
    expect(text).toContain('a@b.c');
  });

  it('when an error is logged, then its message and stack are kept for operators', () => {
    const { logger, lines } = capture();
    logger.error('failed', { error: new Error('disk on fire') });
    expect(lines[0]).toMatchObject({ error: { name: 'Error', message: 'disk on fire', stack: expect.stringContaining('disk on fire') } });
  });

  it('when stdout is a file, then logging returns before anything is written (the thread pool writes, not the event loop), and every line arrives', async () => {
    // The only thread-pool thread is kept busy for a while: a write made on the event loop (as process.stdout does
    // to a file) would be in the file at once; one handed to the pool cannot be until the pool is free.
    const script = `
      const fs = require('node:fs');
      const { pbkdf2 } = require('node:crypto');
      const { createLogger, flushLogs } = require(${JSON.stringify(path.join(PROJECT_ROOT, 'backend/src/infra/logger.ts'))});
      const logger = createLogger('info');
      pbkdf2('busy', 'pool', 500000, 32, 'sha256', () => undefined);
      for (let i = 0; i < 1000; i++) logger.info('filler', { i });
      const rightAfter = fs.fstatSync(1).size;
      flushLogs().then(() => process.stderr.write(JSON.stringify({ rightAfter, flushed: fs.fstatSync(1).size })));
    `;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-log-'));
    const file = path.join(dir, 'stdout.log');
    const fd = fs.openSync(file, 'w');
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
        stdio: ['ignore', fd, 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      await new Promise((resolve) => child.on('exit', resolve));
      const sizes = JSON.parse(stderr) as { rightAfter: number; flushed: number };
      const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(sizes.rightAfter).toBe(0);
      expect(sizes.flushed).toBe(fs.statSync(file).size);
      expect(lines).toHaveLength(1000);
      expect(lines[999]).toMatchObject({ level: 'info', message: 'filler', i: 999, service: 'crm-api', timestamp: expect.any(String) });
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
