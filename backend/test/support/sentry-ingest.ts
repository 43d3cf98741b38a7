import http from 'node:http';
import { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One event as Sentry's ingest receives it (the fields these tests read). */
export interface IngestedEvent {
  event_id: string;
  release?: string;
  environment?: string;
  tags?: Record<string, string>;
  exception?: { values: Array<{ type?: string; value?: string }> };
  request?: unknown;
  user?: unknown;
  breadcrumbs?: unknown;
  extra?: unknown;
  server_name?: unknown;
}

export interface SentryIngest {
  /** A DSN naming this server as the project's ingest. */
  dsn: string;
  events: IngestedEvent[];
  /** Every byte that arrived, raw, for "this never left the process" checks. */
  raw: string[];
  close(): Promise<void>;
}

/**
 * A local double of Sentry's ingest protocol: `POST /api/<project>/envelope/` takes an envelope (newline
 * separated JSON: a header, then item header / item payload pairs; gzip when the SDK compresses it) and
 * answers 200 as sentry.io does. The real @sentry/node client sends to it.
 */
export async function startSentryIngest(project = '4242'): Promise<SentryIngest> {
  const events: IngestedEvent[] = [];
  const raw: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url?.split('?')[0] !== `/api/${project}/envelope/`) {
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.concat(chunks);
      const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8');
      raw.push(text);
      const [, ...items] = text.split('\n').filter((line) => line.length > 0);
      for (let i = 0; i + 1 < items.length; i += 2) {
        if ((JSON.parse(items[i]!) as { type?: string }).type === 'event') events.push(JSON.parse(items[i + 1]!) as IngestedEvent);
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    dsn: `http://0123456789abcdef0123456789abcdef@127.0.0.1:${port}/${project}`,
    events,
    raw,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
