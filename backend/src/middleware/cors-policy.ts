import cors from 'cors';
import { RequestHandler } from 'express';

export const CLIENT_HEADERS = ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id', 'X-Tenant-ID', 'X-API-Key'];
export const EXPOSED_HEADERS = [
  'X-Request-Id',
  'RateLimit',
  'RateLimit-Policy',
  'Retry-After',
  'Idempotent-Replayed',
  'Content-Disposition',
];

/**
 * Stage 3, with the security headers: only origins on the allow-list get CORS headers (with credentials, for the refresh cookie);
 * any other origin gets none and the browser refuses the answer. Requests without Origin are not CORS.
 */
export function corsPolicy(allowedOrigins: string[]): RequestHandler {
  const allowed = new Set(allowedOrigins);
  return cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    credentials: true,
    allowedHeaders: CLIENT_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    methods: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'],
    maxAge: 600,
  });
}
