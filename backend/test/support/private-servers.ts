import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { eventually } from './eventually';

/**
 * Throwaway servers for fault injection: a PostgreSQL cluster and a Redis of the test's own, on free
 * ports, that a test may stop, kill and restart without touching the shared ones. Each is removed by
 * its `destroy()`.
 */
const run = promisify(execFile);

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

/** Debian's PostgreSQL binaries (the CI machine's), newest version first. */
export function postgresBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs.readdirSync(root).filter((name) => fs.existsSync(path.join(root, name, 'bin', 'pg_ctl'))).sort((x, y) => Number(y) - Number(x));
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

export interface PrivatePostgres {
  port: number;
  /** The superuser's URL of database `postgres` on this cluster. */
  serverUrl: string;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** initdb + pg_ctl on a temp directory (as the `postgres` system user when run as root: PostgreSQL refuses root). */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinaries();
  if (!bin) throw new Error('PostgreSQL server binaries are not installed');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-fault-pg-'));
  const data = path.join(dir, 'data');
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await run('chown', ['-R', 'postgres:postgres', dir]);
  const as = (command: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(bin, command), ...args]) : run(path.join(bin, command), args));
  await as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
  const start = async () => {
    await as('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-o', options, '-w', '-t', '30', 'start']);
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    await as('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '30', 'stop']);
  };
  await start();
  return {
    port,
    serverUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    start,
    destroy: async () => {
      await stop('immediate').catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateRedis {
  port: number;
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** A redis-server of the test's own, without persistence. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await eventually(() => canConnect(port), 10_000, `redis on ${port}`);
  };
  const stop = async () => {
    const current = child;
    child = undefined;
    if (!current || current.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      current.once('exit', () => resolve());
      current.kill('SIGKILL');
    });
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, start, stop, destroy: stop };
}

export interface PgBouncer {
  port: number;
  destroy(): Promise<void>;
}

/** Debian's pgbouncer, when installed (.ci/run installs it). */
export const pgbouncerBinary = (): string | undefined => ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((candidate) => fs.existsSync(candidate));

/**
 * A pgbouncer of the test's own in transaction pooling mode in front of one database, with a small
 * server pool, trusting the users it lists (the PostgreSQL behind it checks the passwords).
 */
export async function startPgBouncer(target: { host: string; port: number; database: string }, users: string[], poolSize: number): Promise<PgBouncer> {
  const binary = pgbouncerBinary();
  if (!binary) throw new Error('pgbouncer is not installed');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-pgbouncer-'));
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'userlist.txt'), users.map((user) => `"${user}" ""`).join('\n') + '\n');
  fs.writeFileSync(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `${target.database} = host=${target.host} port=${target.port} dbname=${target.database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      // The test reads SHOW SERVERS / SHOW CLIENTS on the admin console.
      'stats_users = postgres',
      'server_reset_query =',
      'ignore_startup_parameters = statement_timeout,extra_float_digits',
      `default_pool_size = ${poolSize}`,
      'max_client_conn = 200',
      `logfile = ${path.join(dir, 'pgbouncer.log')}`,
      `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
      `# ${randomBytes(4).toString('hex')}`,
    ].join('\n') + '\n',
  );
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await run('chown', ['-R', 'postgres:postgres', dir]);
  // pgbouncer refuses to run as root, like PostgreSQL.
  const child = asRoot
    ? spawn('runuser', ['-u', 'postgres', '--', binary, path.join(dir, 'pgbouncer.ini')], { stdio: 'ignore' })
    : spawn(binary, [path.join(dir, 'pgbouncer.ini')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await eventually(() => canConnect(port), 10_000, `pgbouncer on ${port}`);
  return {
    port,
    destroy: async () => {
      // runuser does not pass signals on: the pidfile names pgbouncer itself.
      const pidFile = path.join(dir, 'pgbouncer.pid');
      const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : child.pid;
      if (child.exitCode === null && pid) {
        process.kill(pid, 'SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
