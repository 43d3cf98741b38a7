/**
 * The monitoring kit in docker/ holds: promtool accepts the alert rules and the scrape configuration, the
 * rules' unit tests fire each alert when they should, and every metric the rules and the Grafana
 * dashboard query is one the API exports, with the queue-depth and webhook gauges showing a real backlog.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { PROJECT_ROOT } from '../src/lib/project-root';
import { registerTenant } from './support/api-fixtures';
import { TestJobRunner } from './support/jobs';
import { buildTestApp, TestApp } from './support/test-app';
import { WebhookReceiver } from './support/webhook-receiver';

const PROMETHEUS_DIR = path.join(PROJECT_ROOT, 'docker', 'prometheus');
const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');

/** promtool's output, failing the test with it when promtool refuses. */
const promtool = (...args: string[]) => execFileSync('promtool', args, { cwd: PROMETHEUS_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** The metric names a PromQL expression reads: labels, ranges, grouping and functions left out. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without)\s*\([^)]*\)/g, ' ')
    .replace(/"[^"]*"/g, ' ');
  return [...bare.matchAll(/\b([a-z][a-z0-9_]*)\b(?!\s*\()/g)].map((match) => match[1]!).filter((name) => name.includes('_'));
}

/** `x_bucket`, `x_count`, `x_sum` are series of the histogram `x`. */
const family = (name: string) => name.replace(/_(bucket|count|sum)$/, '');

describe('monitoring', () => {
  let t: TestApp;
  let jobs: TestJobRunner;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    t = buildTestApp();
    jobs = new TestJobRunner(t);
    receiver = await new WebhookReceiver().start();
  });
  afterAll(async () => {
    await receiver.stop();
    await jobs.close();
    await t.close();
  });

  it('when promtool checks the alert rules and the scrape configuration, then it accepts them, and the rules fire as their unit tests expect', () => {
    expect(promtool('check', 'rules', 'alerts.yml')).toMatch(/SUCCESS: \d+ rules found/);
    expect(promtool('check', 'config', '--syntax-only', 'prometheus.yml')).toMatch(/SUCCESS/);
    expect(promtool('test', 'rules', 'alerts.test.yml')).toMatch(/SUCCESS/);
  });

  it('when a receiver fails, then /metrics shows the retrying delivery and its job waiting in the queue, and every metric the alerts and the dashboard read is exported', async () => {
    const tenant = await registerTenant(t.app);
    receiver.script('/failing', [500]);
    await request(t.app).post('/api/v1/webhooks').set(tenant.auth).send({ url: receiver.url('/failing'), events: ['lead.created'] }).expect(201);
    await request(t.app).post('/api/v1/leads').set(tenant.auth).send({ lastName: 'Noether' }).expect(201);
    await jobs.runUntilIdle(tenant.tenantId);
    expect(receiver.at('/failing')).toHaveLength(1);

    const metrics = (await request(t.app).get('/metrics').expect(200)).text;
    expect(Number(/^webhook_deliveries_retrying (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^webhook_deliveries_retrying_tenants (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    // The retry is a job due later: scheduled, not ready.
    expect(Number(/^job_queue_depth\{task="webhooks\.deliver",state="scheduled"\} (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^job_queue_oldest_ready_seconds \d/m);

    const alertExprs = [...read('docker/prometheus/alerts.yml').matchAll(/expr: \|?\s*\n?([\s\S]*?)\n\s+(?:for|labels):/g)].map((match) => match[1]!);
    const dashboard = JSON.parse(read('docker/grafana/crm-dashboard.json')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
    const dashboardExprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
    expect(alertExprs.length).toBeGreaterThanOrEqual(9);
    const queried = [...new Set([...alertExprs, ...dashboardExprs].flatMap(metricNames).map(family))].sort();
    expect(queried).toEqual(expect.arrayContaining(['audit_pending_overdue_entries', 'db_pool_connections', 'job_queue_depth', 'rate_limit_store_errors_total', 'webhook_deliveries_retrying']));
    expect(queried.filter((name) => !new RegExp(`^# TYPE ${name} `, 'm').test(metrics))).toEqual([]);
  });
});
