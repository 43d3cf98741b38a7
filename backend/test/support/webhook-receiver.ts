import http from 'node:http';
import { AddressInfo } from 'node:net';
import { TestJobRunner } from './jobs';

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** What the receiver does with a request: answer a status, drop the connection (a network error), or answer 100 KB. */
export type Reply = number | 'drop' | 'huge';

/**
 * A local HTTP receiver for webhook tests: each path answers from its own script of replies (then 200),
 * and keeps every request it got, raw body included.
 */
export class WebhookReceiver {
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      this.requests.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const reply = this.scripts.get(path)?.shift() ?? 200;
      if (reply === 'drop') {
        req.socket.destroy();
        return;
      }
      if (reply === 'huge') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('x'.repeat(100_000));
        return;
      }
      res.writeHead(reply, { 'Content-Type': 'text/plain' }).end(`answer ${reply}`);
    });
  });
  private readonly scripts = new Map<string, Reply[]>();
  readonly requests: Received[] = [];
  port = 0;

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  script(path: string, replies: Reply[]): void {
    this.scripts.set(path, [...replies]);
  }

  at(path: string): Received[] {
    return this.requests.filter((request) => request.path === path);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Makes a tenant's waiting retries due now (their delivery and their job), as if their backoff had passed. */
export async function makeRetriesDue(jobs: TestJobRunner, tenantId: string): Promise<void> {
  await jobs.owner('webhook_deliveries').where({ tenant_id: tenantId, status: 'pending' }).update({ next_attempt_at: jobs.owner.fn.now() });
  await jobs.makeDue((await jobs.queuedJobs({ task: 'webhooks.deliver', tenantId })).map((job) => job.id));
}
