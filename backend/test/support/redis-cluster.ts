import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { eventually } from './eventually';
import { freePort } from './private-servers';

const run = promisify(execFile);

/** redis-server and redis-cli 7+ (sharded pub/sub, which the change bus uses on a cluster). */
export const hasRedisCluster = ((): boolean => {
  try {
    const version = /v=(\d+)\./.exec(execFileSync('redis-server', ['--version']).toString())?.[1];
    execFileSync('redis-cli', ['--version'], { stdio: 'ignore' });
    return Number(version) >= 7;
  } catch {
    return false;
  }
})();

export interface TestRedisCluster {
  ports: number[];
  password: string;
  /** The value of REDIS_CLUSTER_NODES for an app using this cluster. */
  nodesSetting: string;
  /** Runs redis-cli against one node and answers its output. */
  cli(port: number, ...args: string[]): Promise<string>;
  /** Starts one more primary, without slots, and joins it to the cluster (a topology change). */
  addNode(): Promise<number>;
  /** Moves one hash slot, and the keys in it, between nodes, as `redis-cli --cluster reshard` does. */
  moveSlot(slot: number, fromPort: number, toPort: number): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * A Redis Cluster of the test's own: `size` primaries without replicas on free local ports, each with
 * its cluster config and nothing else in a temp directory, behind a password. Resolves once every node
 * reports `cluster_state:ok`. Every redis-server started is stopped by `destroy()`, by a failed start,
 * and when the test process exits (so a crashed run leaves none behind).
 */
export async function startRedisCluster(size = 3): Promise<TestRedisCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-redis-cluster-'));
  const password = randomBytes(12).toString('hex');
  const children: ChildProcess[] = [];
  const killAll = () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  const cli = async (port: number, ...args: string[]) => {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { env: { ...process.env, REDISCLI_AUTH: password } });
    // redis-cli prints an error reply and may still exit 0.
    if (/^(ERR|NOAUTH|WRONGTYPE|MOVED|ASK|CLUSTERDOWN|NOSCRIPT|IOERR|BUSYKEY) /.test(stdout)) {
      throw new Error(`redis-cli ${args.join(' ')} on ${port}: ${stdout.trim()}`);
    }
    return stdout;
  };
  const destroy = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    process.off('exit', killAll);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const startNode = async () => {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
        ...['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000'],
        ...['--requirepass', password, '--masterauth', password],
      ],
      { stdio: 'ignore' },
    );
    children.push(child);
    await eventually(() => cli(port, 'ping').then((out) => out.trim() === 'PONG', () => false), 10_000, `redis-server on ${port}`);
    return port;
  };
  const clusterCli = (...args: string[]) => run('redis-cli', ['--cluster', ...args], { env: { ...process.env, REDISCLI_AUTH: password } });
  const info = async (port: number, field: string) => new RegExp(`${field}:(\\w+)`).exec(await cli(port, 'cluster', 'info'))?.[1];
  const nodeId = async (port: number) => (await cli(port, 'cluster', 'myid')).trim();

  try {
    const ports: number[] = [];
    for (let i = 0; i < size; i++) ports.push(await startNode());
    const addresses = () => ports.map((port) => `127.0.0.1:${port}`);
    await clusterCli('create', ...addresses(), '--cluster-replicas', '0', '--cluster-yes');
    for (const port of ports) await eventually(async () => (await info(port, 'cluster_state')) === 'ok', 15_000, `cluster_state:ok on ${port}`);

    const addNode = async () => {
      const port = await startNode();
      await clusterCli('add-node', `127.0.0.1:${port}`, addresses()[0]!);
      ports.push(port);
      for (const known of ports) {
        await eventually(async () => Number(await info(known, 'cluster_known_nodes')) === ports.length, 15_000, `node ${known} meeting the new node`);
      }
      // Until it has learnt the slot map, the new node refuses keys (MIGRATE into it answers CLUSTERDOWN).
      await eventually(async () => (await info(port, 'cluster_state')) === 'ok', 15_000, `cluster_state:ok on the new node ${port}`);
      return port;
    };
    const moveSlot = async (slot: number, fromPort: number, toPort: number) => {
      const [fromId, toId] = [await nodeId(fromPort), await nodeId(toPort)];
      await cli(toPort, 'cluster', 'setslot', String(slot), 'importing', fromId);
      await cli(fromPort, 'cluster', 'setslot', String(slot), 'migrating', toId);
      const keys = (await cli(fromPort, 'cluster', 'getkeysinslot', String(slot), '1000')).split('\n').filter(Boolean);
      if (keys.length) await cli(fromPort, 'migrate', '127.0.0.1', String(toPort), '', '0', '5000', 'AUTH', password, 'KEYS', ...keys);
      // The new owner first, then the old one, then the rest: the order redis-cli --cluster reshard uses.
      for (const port of [toPort, fromPort, ...ports.filter((other) => other !== toPort && other !== fromPort)]) {
        await cli(port, 'cluster', 'setslot', String(slot), 'node', toId);
      }
    };
    return { ports, password, nodesSetting: addresses().join(','), cli, addNode, moveSlot, destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}
