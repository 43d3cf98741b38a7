import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/lib/project-root';
import { eventually } from './eventually';

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  output(): string;
  /** Resolves once the process has printed text. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  /** What Ctrl-C in a terminal does: SIGINT to every process of the group (npm and the server alike). */
  interrupt(): void;
  exited: Promise<number | null>;
}

export interface ServerLaunch {
  /** backend/src/server.ts (the default) or another entry point, such as worker.ts. */
  entry?: string;
  timeoutMs?: number;
  /** Run `npm start` in this checkout instead, exactly as a user types it. */
  npmStartIn?: string;
}

/**
 * Starts the server as `npm start` runs it (node with tsx's loader, one process: a signal reaches the
 * server itself) and waits for its "listening" line. Jobs stay off unless asked for: a test's own
 * TestJobRunner decides when its jobs run.
 */
export function startServer(env: Record<string, string | undefined>, launch: ServerLaunch = {}): Promise<ServerProcess> {
  const { entry = 'server.ts', timeoutMs = 60_000, npmStartIn } = launch;
  const child = spawn(
    npmStartIn ? 'npm' : process.execPath,
    npmStartIn ? ['start', '--silent'] : ['--import', 'tsx', path.join(PROJECT_ROOT, 'backend', 'src', entry)],
    {
      cwd: npmStartIn ?? PROJECT_ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: '0',
        WORKER_PORT: '0',
        HOST: '127.0.0.1',
        REDIS_KEY_PREFIX: `test:${randomUUID().slice(0, 8)}:`,
        JOBS_IN_PROCESS: 'false',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // A process group of its own, as a terminal gives each command line.
      detached: true,
    },
  );
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start in time:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(/"message":"listening","port":(\d+)|"port":(\d+)[^\n]*"message":"listening"/);
      if (match) {
        clearTimeout(timer);
        resolve({
          child,
          port: Number(match[1] ?? match[2]),
          output: () => output,
          waitFor: (text, waitMs = 5_000) =>
            eventually(() => output.includes(text), waitMs, `the server printing ${JSON.stringify(text)}`).catch((error: Error) => {
              throw new Error(`${error.message}:\n${output}`);
            }),
          interrupt: () => process.kill(-child.pid!, 'SIGINT'),
          exited,
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
}

/** Runs the server entry point to completion (for boot failures). */
export function runServerToExit(env: Record<string, string | undefined>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'backend', 'src', 'server.ts')], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}
