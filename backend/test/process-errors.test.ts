import { PassThrough } from 'node:stream';
import winston from 'winston';
import { exitOnProcessErrors } from '../src/infra/process-errors';
import { eventually } from './support/eventually';

describe('process-level errors (server and worker)', () => {
  it('when an unhandled rejection reaches the process, then one JSON line names it, and the process exits 1', async () => {
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').trim().split('\n')));
    const logger = winston.createLogger({ format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] });
    const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const before = process.listenerCount('unhandledRejection');
    const crashListeners = process.listeners('uncaughtException');
    try {
      exitOnProcessErrors(logger);
      process.emit('unhandledRejection', new Error('lost promise'), Promise.resolve());
      await eventually(() => exit.mock.calls.length > 0, 5000, 'the exit');
      expect(exit).toHaveBeenCalledWith(1);
      const line = JSON.parse(lines[0]!);
      expect(line).toMatchObject({ level: 'error', message: 'unhandled rejection: exiting' });
      expect(JSON.stringify(line)).toContain('lost promise');
      // The handler is spent: a second one would not log twice.
      expect(process.listenerCount('unhandledRejection')).toBe(before);
    } finally {
      exit.mockRestore();
      for (const listener of process.listeners('uncaughtException')) if (!crashListeners.includes(listener)) process.off('uncaughtException', listener);
    }
  });
});
