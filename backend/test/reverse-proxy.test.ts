/**
 * docker/nginx/crm.conf, run by Debian's nginx in front of the API with a self-signed certificate made
 * here: an import larger than nginx's default body limit goes through, a streamed export arrives whole,
 * the audit trail records the client's address (not the proxy's, not a forged X-Forwarded-For), and the
 * anonymous rate limit counts per real client. Clients and the proxy use distinct loopback addresses
 * (127.0.0.3 and others are clients, nginx connects to the API from 127.0.0.2, the proxy TRUST_PROXY names).
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { AddressInfo, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/lib/project-root';
import { registerTenant, Registered } from './support/api-fixtures';
import { eventually } from './support/eventually';
import { buildTestApp, TestApp } from './support/test-app';

const PROXY_ADDRESS = '127.0.0.2';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('TLS reverse proxy (nginx)', () => {
  let t: TestApp;
  let api: http.Server;
  let nginx: ChildProcess;
  let dir: string;
  let httpsPort: number;
  let tenant: Registered;

  /** A request through the proxy over HTTPS, from a client address of our choosing, to a tenant's host. */
  function viaProxy(method: string, urlPath: string, options: { from?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: httpsPort,
          method,
          path: urlPath,
          localAddress: options.from ?? '127.0.0.3',
          servername: `${tenant?.subdomain ?? 'www'}.example.com`,
          ca: readFileSync(path.join(dir, 'fullchain.pem')),
          checkServerIdentity: () => undefined,
          headers: { Host: `${tenant?.subdomain ?? 'www'}.example.com`, ...options.headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  /** The committed configuration with only addresses, ports and file paths changed for this machine. */
  function proxyConfiguration(apiPort: number, httpPort: number): string {
    const site = readFileSync(path.join(PROJECT_ROOT, 'docker/nginx/crm.conf'), 'utf8')
      .replace('server api:3000', `server 127.0.0.1:${apiPort}`)
      .replace(/^\s*listen \[::\].*$/gm, '')
      .replace('listen 80;', `listen 127.0.0.1:${httpPort};`)
      .replace(/listen 443 /g, `listen 127.0.0.1:${httpsPort} `)
      .replace(/\/etc\/nginx\/certs\//g, `${dir}/`)
      .replace('proxy_http_version 1.1;', `proxy_http_version 1.1;\n  proxy_bind ${PROXY_ADDRESS};`);
    writeFileSync(path.join(dir, 'crm.conf'), site);
    const temp = path.join(dir, 'temp');
    return readFileSync(path.join(PROJECT_ROOT, 'docker/nginx/nginx.conf'), 'utf8')
      .replace('pid /tmp/nginx.pid;', `pid ${dir}/nginx.pid;`)
      .replace('access_log /dev/stdout json;', `access_log ${dir}/access.log json;\n  client_body_temp_path ${temp}/body;\n  proxy_temp_path ${temp}/proxy;`)
      .replace('error_log /dev/stderr warn;', `error_log ${dir}/error.log warn;`)
      .replace('include /etc/nginx/conf.d/*.conf;', `include ${dir}/crm.conf;`);
  }

  beforeAll(async () => {
    t = buildTestApp({ env: { TRUST_PROXY: PROXY_ADDRESS, RATE_LIMIT_ANONYMOUS_MAX: '3' } });
    api = http.createServer(t.app);
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    dir = mkdtempSync(path.join(os.tmpdir(), 'crm-nginx-'));
    chmodSync(dir, 0o755);
    mkdirSync(path.join(dir, 'temp'), { mode: 0o777 });
    chmodSync(path.join(dir, 'temp'), 0o777);
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=example.com',
      '-addext', 'subjectAltName=DNS:example.com,DNS:*.example.com',
      '-keyout', path.join(dir, 'privkey.pem'), '-out', path.join(dir, 'fullchain.pem'),
    ], { stdio: 'ignore' });
    httpsPort = await freePort();
    writeFileSync(path.join(dir, 'nginx.conf'), proxyConfiguration((api.address() as AddressInfo).port, await freePort()));
    nginx = spawn(existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: 'ignore' });
    await eventually(async () => (await viaProxy('GET', '/live').catch(() => undefined))?.status === 200, 15_000, 'nginx answering');
    tenant = await registerTenant(t.app);
  });
  afterAll(async () => {
    if (nginx?.pid) process.kill(nginx.pid, 'SIGTERM');
    await new Promise((resolve) => api.close(resolve));
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when a CSV import past 1 MB goes through the proxy, then it is imported, and a streamed export brings every row back', async () => {
    const rows = Array.from({ length: 1200 }, (_, i) => `Proxy${i},${'n'.repeat(950)}`);
    const csv = `lastName,notes\n${rows.join('\n')}\n`;
    expect(csv.length).toBeGreaterThan(1024 * 1024);
    const imported = await viaProxy('POST', '/api/v1/leads/import/bulk', { headers: { ...tenant.auth, 'Content-Type': 'text/csv' }, body: csv });
    expect(imported.status).toBe(201);
    expect(JSON.parse(imported.body).data).toMatchObject({ created: 1200, failed: 0 });

    const exported = await viaProxy('GET', '/api/v1/leads/export/csv', { headers: tenant.auth });
    expect(exported.status).toBe(200);
    expect(exported.headers['content-type']).toMatch(/text\/csv/);
    expect(exported.body.match(/Proxy\d+/g)).toHaveLength(1200);
  });

  it("when a client writes through the proxy, then the audit trail holds the client's address, even when it sent its own X-Forwarded-For", async () => {
    const created = await viaProxy('POST', '/api/v1/contacts', {
      from: '127.0.0.3',
      headers: { ...tenant.auth, 'Content-Type': 'application/json', 'X-Forwarded-For': '203.0.113.9' },
      body: JSON.stringify({ lastName: 'Forwarded' }),
    });
    expect(created.status).toBe(201);
    const id = JSON.parse(created.body).data.id as string;
    const audit = await viaProxy('GET', `/api/v1/audit-logs?resourceId=${id}`, { headers: tenant.auth });
    const entries = JSON.parse(audit.body).data as Array<{ action: string; ip: string }>;
    expect(entries.map((entry) => entry.ip)).toEqual(['127.0.0.3']);
  });

  it('when one client spends its anonymous budget through the proxy, then it gets 429 while another client behind the same proxy is still served', async () => {
    // Addresses of this run only: Redis keeps budgets across runs for their window.
    const [spender, other] = [4, 5].map((last) => `127.${randomInt(1, 255)}.${randomInt(1, 255)}.${last}`) as [string, string];
    const anonymous = (from: string) => viaProxy('GET', '/api/v1/leads', { from });
    // A failed authentication is charged to the same IP budget, so the 3 are spent within 4 requests.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await anonymous(spender)).status);
    expect(statuses[0]).toBe(401);
    expect(statuses).toContain(429);
    const limited = await anonymous(spender);
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.body).error.code).toBe('RATE_LIMITED');
    expect((await anonymous(other)).status).toBe(401);
  });

  it('when the Host is not the base domain or one of its subdomains, then the proxy refuses it', async () => {
    const answer = await viaProxy('GET', '/live', { headers: { Host: 'evil.test' } });
    expect(answer.status).toBe(421);
  });
});
