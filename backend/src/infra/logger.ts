import fs from 'node:fs';
import winston from 'winston';
import { isSecretName } from '../lib/secret-names';
import { currentRequestContext } from './request-context';

/** Drops values whose key names a secret, however deep, so no log line can carry one. */
function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code, stack: value.stack };
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = isSecretName(key) ? '[redacted]' : redact(inner, depth + 1);
  }
  return out;
}

const withContext = winston.format((info) => {
  const context = currentRequestContext();
  if (context) {
    info.requestId ??= context.requestId;
    if (context.tenantId) info.tenantId ??= context.tenantId;
  }
  for (const key of Object.keys(info)) {
    if (key !== 'level' && key !== 'message') info[key] = isSecretName(key) ? '[redacted]' : redact(info[key]);
  }
  return info;
});

export type Logger = winston.Logger;

/** Past this many bytes waiting for stdout, lines are dropped (and counted) rather than held in memory. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

let stdoutStream: fs.WriteStream | undefined;

/**
 * stdout as an asynchronous stream: an fs.WriteStream on fd 1 writes from libuv's thread pool (Node
 * retries partial writes and EAGAIN, and writes queued lines together), so the event loop never waits
 * for a write, whatever stdout is. process.stdout would write on the event loop, blocking outright
 * when stdout is a file or a terminal.
 */
function stdout(): fs.WriteStream {
  stdoutStream ??= fs.createWriteStream('/dev/stdout', { fd: 1, autoClose: false });
  return stdoutStream;
}

/** Where winston puts the formatted line (triple-beam's MESSAGE symbol). */
const MESSAGE = Symbol.for('message');

/** Lines logged in this turn of the event loop, written together at the next one. */
let pendingLines: string[] = [];
let pendingBytes = 0;
let flushScheduled = false;

/**
 * One write per turn of the event loop, not one per line: each write is a task on libuv's thread pool
 * (a hand-off between threads), and under load a turn logs many lines.
 */
function writePending(): void {
  flushScheduled = false;
  if (pendingLines.length === 0) return;
  const chunk = pendingLines.join('');
  pendingLines = [];
  pendingBytes = 0;
  stdout().write(chunk);
}

/** Winston's line, as is, to the asynchronous stdout; a stalled reader costs dropped lines, never memory or time. */
class AsyncStdoutTransport extends winston.transports.Stream {
  private dropped = 0;

  constructor() {
    super({ stream: stdout(), eol: '\n' });
  }

  override log(info: Record<string | symbol, unknown>, done: () => void): void {
    if (stdout().writableLength + pendingBytes > MAX_PENDING_BYTES) {
      this.dropped += 1;
      done();
      return;
    }
    if (this.dropped > 0) {
      const notice = { level: 'warn', message: 'log lines dropped: stdout did not keep up', dropped: this.dropped, service: 'crm-api', timestamp: new Date().toISOString() };
      this.queue(JSON.stringify(notice));
      this.dropped = 0;
    }
    this.queue(String(info[MESSAGE]));
    done();
  }

  private queue(line: string): void {
    pendingLines.push(`${line}\n`);
    pendingBytes += line.length + 1;
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(writePending);
    }
  }
}

/** Resolves once every line logged so far has been written: call it before process.exit. */
export function flushLogs(): Promise<void> {
  writePending();
  return new Promise((resolve) => (stdoutStream ? stdoutStream.write('', () => resolve()) : resolve()));
}

export function createLogger(level: string): Logger {
  return winston.createLogger({
    level: level === 'silent' ? 'error' : level,
    silent: level === 'silent',
    format: winston.format.combine(
      withContext(),
      winston.format.errors({ stack: true }),
      winston.format.timestamp(),
      winston.format.json(),
    ),
    defaultMeta: { service: 'crm-api' },
    transports: [new AsyncStdoutTransport()],
  });
}
