import { loadConfigOrExit } from '../config/load-config';
import { servingCredentials } from '../infra/db-roles';

/** A value in single quotes for a POSIX shell: the only character to escape there is the quote itself. */
const shellQuoted = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

/**
 * `npm run db:serving-urls`: prints `export APP_DATABASE_URL=… PLATFORM_DATABASE_URL=… JOBS_DATABASE_URL=…`
 * for the logins `npm run migrate` provisions (derived from DATABASE_URL). The Docker entrypoint evaluates
 * it, then unsets DATABASE_URL, so the server and the worker never hold the owner's URL or password.
 */
function main(): void {
  const config = loadConfigOrExit(process.env);
  if (!config.db.adminUrl) {
    process.stderr.write('db:serving-urls needs DATABASE_URL (the owner URL the serving logins derive from)\n');
    process.exit(1);
  }
  const { runtime, platform, jobs } = servingCredentials(config.db);
  const lines = [`APP_DATABASE_URL=${shellQuoted(runtime.url)}`, `PLATFORM_DATABASE_URL=${shellQuoted(platform.url)}`, `JOBS_DATABASE_URL=${shellQuoted(jobs.url)}`];
  process.stdout.write(lines.map((line) => `export ${line}\n`).join(''));
}

main();
