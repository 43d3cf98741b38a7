import winston from 'winston';
import { currentRequestContext } from './request-context';

const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|hash/i;

/** Drops values whose key names a secret, however deep, so no log line can carry one. */
function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code, stack: value.stack };
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(inner, depth + 1);
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
    if (key !== 'level' && key !== 'message') info[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(info[key]);
  }
  return info;
});

export type Logger = winston.Logger;

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
    transports: [new winston.transports.Console()],
  });
}
