import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { EmbeddedLayout, embeddedLayout, EmbeddedPostgresError, OsUser } from './embedded-postgres-layout';
import { Logger } from './logger';

export { EmbeddedPostgresError } from './embedded-postgres-layout';

export interface EmbeddedDatabase {
  adminUrl: string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
// Messages in English whatever the machine's locale: the readiness line and the errors are read below.
const CHILD_ENV = { LC_ALL: 'C' };

/**
 * A real PostgreSQL from the binaries of the embedded-postgres package (a devDependency: production sets
 * DATABASE_URL), run by this module rather than by that package's wrapper, which stops the cluster on
 * the first SIGTERM before the application has let go of it, and leaves spawn errors unhandled.
 * The cluster lives in `dir` and is kept between runs unless `persistent` is false; `database` is
 * created on first use. Any failure is an EmbeddedPostgresError with a one-line message.
 */
export async function startEmbeddedPostgres(options: {
  dir: string;
  port: number;
  password: string;
  database: string;
  logger: Logger;
  persistent?: boolean;
}): Promise<EmbeddedDatabase> {
  const persistent = options.persistent ?? true;
  const layout = embeddedLayout(path.resolve(options.dir), options.logger);
  prepareDataDir(layout);
  if (!fs.existsSync(path.join(layout.dataDir, 'PG_VERSION'))) {
    options.logger.info('initialising embedded PostgreSQL', { dir: layout.dataDir });
    await initialise(layout, options.password, options.logger);
  }
  const postmaster = await startPostmaster(layout, options.port, options.logger);
  const stop = async () => {
    await postmaster.stop();
    if (!persistent) fs.rmSync(layout.dataDir, { recursive: true, force: true });
  };

  const base = `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}`;
  try {
    await ensureDatabase(`${base}/postgres`, options.database, layout.dataDir);
  } catch (error) {
    await stop();
    throw error;
  }
  return { adminUrl: `${base}/${options.database}`, stop };
}

function prepareDataDir(layout: EmbeddedLayout): void {
  fs.mkdirSync(layout.dataDir, { recursive: true, mode: 0o700 });
  if (layout.runAs && fs.statSync(layout.dataDir).uid !== layout.runAs.uid) {
    fs.chownSync(layout.dataDir, layout.runAs.uid, layout.runAs.gid);
  }
}

async function initialise(layout: EmbeddedLayout, password: string, logger: Logger): Promise<void> {
  // The password goes through a file only the cluster's user can read, never through arguments.
  const secretDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-pg-init-'));
  const pwfile = path.join(secretDir, 'pwfile');
  try {
    fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (layout.runAs) {
      fs.chownSync(secretDir, layout.runAs.uid, layout.runAs.gid);
      fs.chownSync(pwfile, layout.runAs.uid, layout.runAs.gid);
    }
    const initdb = launch(
      path.join(layout.installDir, 'bin', 'initdb'),
      // UTF-8 with Unicode case mapping (lower(), ILIKE) that does not depend on the machine's locales.
      ['-D', layout.dataDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C', '--locale-provider=builtin', '--builtin-locale=C.UTF-8'],
      layout.runAs,
      (line) => logger.debug('embedded postgres initdb', { detail: line }),
    );
    const { code } = await initdb.exited;
    if (code !== 0) {
      throw new EmbeddedPostgresError(`initdb of the embedded PostgreSQL in ${layout.dataDir} failed: ${lastError(initdb.lines) ?? `exit code ${code}`}`);
    }
  } finally {
    fs.rmSync(secretDir, { recursive: true, force: true });
  }
}

interface Postmaster {
  stop(): Promise<void>;
}

const READY = 'database system is ready to accept connections';

async function startPostmaster(layout: EmbeddedLayout, port: number, logger: Logger): Promise<Postmaster> {
  // TCP on loopback only, and no Unix socket: nothing to clash with another cluster's socket in /tmp.
  const args = ['-D', layout.dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  let becameReady!: () => void;
  const ready = new Promise<void>((resolve) => (becameReady = resolve));
  const postgres = launch(path.join(layout.installDir, 'bin', 'postgres'), args, layout.runAs, (line) => {
    logger.debug('embedded postgres', { detail: line });
    if (line.includes(READY)) becameReady();
  });
  const running = () => postgres.child.exitCode === null && postgres.child.signalCode === null;
  // If this process ends without stopping it (a crash), the cluster is told to stop too.
  const stopOnExit = () => {
    if (running()) postgres.child.kill('SIGINT');
  };
  process.on('exit', stopOnExit);
  void postgres.exited.then(() => process.off('exit', stopOnExit));

  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    postgres.exited.then(() => 'exited' as const),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), START_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if (outcome !== 'ready') {
    if (running()) {
      postgres.child.kill('SIGQUIT');
      await postgres.exited;
    }
    const reason = lastError(postgres.lines) ?? (outcome === 'timeout' ? `no answer within ${START_TIMEOUT_MS / 1000} s` : 'it exited');
    throw new EmbeddedPostgresError(`The embedded PostgreSQL (data ${layout.dataDir}, port ${port}) did not start: ${reason}`);
  }

  return {
    // Fast shutdown: by now the application has closed its connections, so there is nothing to wait for.
    stop: async () => {
      if (!running()) return;
      postgres.child.kill('SIGINT');
      const slow = setTimeout(() => postgres.child.kill('SIGQUIT'), STOP_TIMEOUT_MS);
      await postgres.exited;
      clearTimeout(slow);
    },
  };
}

interface Launched {
  child: ChildProcess;
  /** The last lines it printed (what an error message quotes). */
  lines: string[];
  /** Also resolves (code < 0) for a program that could not be run at all, with a FATAL line saying why. */
  exited: Promise<{ code: number | null }>;
}

const KEPT_LINES = 50;

/**
 * Runs a PostgreSQL program, as `runAs` when given (from a directory that user may enter). Detached, in
 * a process group of its own: a Ctrl-C in the terminal reaches this process, which stops the cluster
 * last, rather than the cluster first.
 */
function launch(program: string, args: string[], runAs: OsUser | undefined, onLine: (line: string) => void): Launched {
  const child = spawn(program, args, {
    env: CHILD_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid, cwd: os.tmpdir() } : {}),
  });
  const lines: string[] = [];
  const take = (line: string) => {
    if (!line.trim()) return;
    lines.push(line.trim());
    if (lines.length > KEPT_LINES) lines.shift();
    onLine(line.trim());
  };
  for (const stream of [child.stdout, child.stderr]) {
    // A chunk may end inside a line: the rest waits for the next chunk.
    let partial = '';
    stream?.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      parts.forEach(take);
    });
    stream?.on('end', () => take(partial));
  }
  // EACCES, ENOENT: reported as an 'error' event (followed by 'close'), which must never go unhandled.
  child.on('error', (error: NodeJS.ErrnoException) => take(`FATAL:  cannot run ${program} as ${runAs?.name ?? 'this user'}: ${error.code ?? error.message}`));
  const exited = new Promise<{ code: number | null }>((resolve) => child.once('close', (code) => resolve({ code })));
  return { child, lines, exited };
}

/**
 * What PostgreSQL says went wrong and what to do: its last FATAL (or ERROR, PANIC, initdb error) line and
 * its last HINT, which may come before it (a port in use is hinted at, then fatal).
 */
function lastError(lines: string[]): string | undefined {
  const failure = lines.findLast((line) => /\b(FATAL|ERROR|PANIC):/.test(line) || /^initdb: error:/.test(line));
  if (!failure) return undefined;
  const hint = lines.findLast((line) => /\bHINT:/.test(line) || /^initdb: hint:/.test(line));
  // From the severity on: the time and pid in front of server lines say nothing to the reader.
  const message = (line: string) => line.slice(Math.max(0, line.search(/\b(FATAL|ERROR|PANIC|HINT):/)));
  return [failure, hint].flatMap((line) => (line ? [message(line)] : [])).join(' ').replace(/\s+/g, ' ');
}

/** Creates `database` unless it exists; the stored password not being accepted is the one likely failure. */
async function ensureDatabase(serverUrl: string, database: string, dataDir: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  try {
    await client.connect();
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (!rowCount) await client.query(`create database ${client.escapeIdentifier(database)}`);
  } catch (error) {
    const refused = (error as { code?: string }).code === '28P01';
    throw new EmbeddedPostgresError(
      refused
        ? `The embedded PostgreSQL in ${dataDir} refused its password (a cluster made with another one is there): move that directory away to start afresh`
        : `The embedded PostgreSQL in ${dataDir} started but failed: ${(error as Error).message}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
