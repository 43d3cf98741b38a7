import path from 'node:path';
import { PROJECT_ROOT } from '../lib/project-root';

interface DemoData {
  DEMO_PASSWORD: string;
  demoLogins(): Array<{ tenant: string; tenantId: string; role: string; email: string }>;
}

/** The seeded accounts, printed once the embedded default is up, so a newcomer can sign in at once. */
export function printDemoLogins(port: number): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const demo = require(path.join(PROJECT_ROOT, 'seeders', 'support', 'demo-data.js')) as DemoData;
  const rows = demo.demoLogins().map((login) => `  ${login.email.padEnd(38)} ${login.role.padEnd(14)} ${login.tenant}`);
  process.stdout.write(
    [
      '',
      `CRM API on http://localhost:${port}  (embedded PostgreSQL, demo data)`,
      `Demo logins, password "${demo.DEMO_PASSWORD}":`,
      ...rows,
      '',
      `Try: curl http://localhost:${port}/health`,
      '',
    ].join('\n'),
  );
}
