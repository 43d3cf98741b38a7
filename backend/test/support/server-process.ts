import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/lib/project-root';

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  output(): string;
  /** Resolves once the process has printed text. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

const TSX = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx');

/**
 * Starts backend/src/server.ts as `npm start` does (or another entry point, such as worker.ts), and waits
 * for its "listening" line. Jobs stay off unless asked for: the test database's queue is shared, and a
 * server of one test must not run another test's jobs with its own settings.
 */
export function startServer(env: Record<string, string | undefined>, timeoutMs = 60_000, entry = 'server.ts'): Promise<ServerProcess> {
  const child = spawn(TSX, [path.join(PROJECT_ROOT, 'backend', 'src', entry)], {
    cwd: PROJECT_ROOT,
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
    // tsx runs the server in a child process of its own and relays SIGTERM/SIGINT to it, but cannot relay
    // SIGKILL: that goes to the whole group, or it would end tsx alone and leave the server running, orphaned.
    detached: true,
  });
  signalGroup(child);
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
          waitFor: async (text, waitMs = 5_000) => {
            const deadline = Date.now() + waitMs;
            while (!output.includes(text)) {
              if (Date.now() > deadline) throw new Error(`server never printed ${JSON.stringify(text)}:\n${output}`);
              await new Promise((done) => setTimeout(done, 20));
            }
          },
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

/** Makes `child.kill('SIGKILL')` kill the child's process group (tsx and the server it runs); other signals go to tsx, which relays them. */
function signalGroup(child: ChildProcess): void {
  const killOne = child.kill.bind(child);
  child.kill = (signal?: NodeJS.Signals | number) => {
    if (signal !== 'SIGKILL' || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return killOne(signal);
    try {
      process.kill(-child.pid, signal);
      return true;
    } catch {
      return killOne(signal);
    }
  };
}

/** Runs the server entry point to completion (for boot failures). */
export function runServerToExit(env: Record<string, string | undefined>): Promise<{ code: number | null; output: string }> {
  const child = spawn(TSX, [path.join(PROJECT_ROOT, 'backend', 'src', 'server.ts')], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}
