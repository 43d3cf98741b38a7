import http from 'node:http';
import https from 'node:https';
import { LookupFunction } from 'node:net';
import { VettedDestination } from './destination-guard';

export const DELIVERY_TIMEOUT_MS = 5000;
/** What is kept of a receiver's answer. */
export const RESPONSE_EXCERPT_BYTES = 4096;

export interface HttpOutcome {
  /** Absent when no answer came (connection refused, reset, timeout). */
  status?: number;
  durationMs: number;
  excerpt?: string;
  error?: string;
}

/**
 * POSTs to the vetted address only: the lookup is pinned, so a name that resolves differently between
 * the check and the connection (DNS rebinding) cannot redirect it; redirects are never followed (a 3xx
 * is just an answer); the whole exchange ends when `signal` aborts (the outbound policy's deadline,
 * DELIVERY_TIMEOUT_MS); at most RESPONSE_EXCERPT_BYTES are read.
 */
export function postJson(destination: VettedDestination, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<HttpOutcome> {
  const started = process.hrtime.bigint();
  const elapsed = () => Number((process.hrtime.bigint() - started) / 1_000_000n);
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: destination.address, family: destination.family }]);
    else callback(null, destination.address, destination.family);
  };
  const transport = destination.url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: Omit<HttpOutcome, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...outcome, durationMs: elapsed() });
    };
    const request = transport.request(
      destination.url,
      {
        method: 'POST',
        agent: false,
        lookup: pinned,
        signal,
        headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), 'User-Agent': 'crm-webhooks/1', ...headers },
      },
      (response) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        response.on('data', (chunk: Buffer) => {
          if (kept < RESPONSE_EXCERPT_BYTES) {
            chunks.push(chunk.subarray(0, RESPONSE_EXCERPT_BYTES - kept));
            kept += Math.min(chunk.length, RESPONSE_EXCERPT_BYTES - kept);
          }
          if (kept >= RESPONSE_EXCERPT_BYTES) response.destroy();
        });
        const done = () => finish({ status: response.statusCode, excerpt: Buffer.concat(chunks).toString('utf8') });
        response.on('end', done);
        response.on('close', done);
        response.on('error', done);
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) =>
      finish({ error: error.name === 'AbortError' || error.name === 'TimeoutError' ? `timed out after ${DELIVERY_TIMEOUT_MS} ms` : (error.code ?? error.message) }),
    );
    request.end(body);
  });
}
