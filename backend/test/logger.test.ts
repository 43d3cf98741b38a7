import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger } from '../src/infra/logger';
import { runWithRequestContext } from '../src/infra/request-context';

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
});
