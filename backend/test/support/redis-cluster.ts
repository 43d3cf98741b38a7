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
  /** Starts a replica of the primary on `primaryPort`, and answers once it is in sync. */
  addReplica(primaryPort: number): Promise<number>;
  /** A manual failover (`CLUSTER FAILOVER` on a replica): the replica becomes the primary of its slots. */
  failover(replicaPort: number): Promise<void>;
  /** Moves one hash slot, and the keys in it, between nodes, as `redis-cli --cluster reshard` does. */
  moveSlot(slot: number, fromPort: number, toPort: number): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * A Redis Cluster of the test's own: `size` primaries without replicas on free local ports, each with
 * its cluster config (and nothing else but a replica's received RDB) in a temp directory of its own,
 * behind a password. Resolves once every node reports `cluster_state:ok`. Every redis-server started is stopped by `destroy()`, by a failed start,
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
    // A directory per node: a replica writes the RDB it receives there, which a node sharing it would load.
    const nodeDir = path.join(dir, String(port));
    fs.mkdirSync(nodeDir);
    const child = spawn(
      'redis-server',
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir, '--save', '', '--appendonly', 'no'],
        ...['--cluster-enabled', 'yes', '--cluster-config-file', path.join(nodeDir, 'nodes.conf'), '--cluster-node-timeout', '2000'],
        ...['--requirepass', password, '--masterauth', password],
      ],
      { stdio: 'ignore' },
    );
    children.push(child);
    await eventually(() => cli(port, 'ping').then((out) => out.trim() === 'PONG', () => false), 10_000, `redis-server on ${port}`);
    return port;
  };
  const clusterCli = (...args: string[]) =>
    run('redis-cli', ['--cluster', ...args], { env: { ...process.env, REDISCLI_AUTH: password } }).catch((error: Error & { stdout?: string }) => {
      throw new Error(`redis-cli --cluster ${args.join(' ')}: ${error.stdout ?? error.message}`);
    });
  const info = async (port: number, field: string) => new RegExp(`${field}:(\\w+)`).exec(await cli(port, 'cluster', 'info'))?.[1];
  const nodeId = async (port: number) => (await cli(port, 'cluster', 'myid')).trim();

  try {
    const ports: number[] = [];
    for (let i = 0; i < size; i++) ports.push(await startNode());
    const addresses = () => ports.map((port) => `127.0.0.1:${port}`);
    await clusterCli('create', ...addresses(), '--cluster-replicas', '0', '--cluster-yes');
    for (const port of ports) await eventually(async () => (await info(port, 'cluster_state')) === 'ok', 15_000, `cluster_state:ok on ${port}`);

    const meetAll = async () => {
      for (const known of ports) {
        await eventually(async () => Number(await info(known, 'cluster_known_nodes')) === ports.length, 15_000, `node ${known} meeting the new node`);
      }
    };
    const replication = async (port: number, field: string) => new RegExp(`${field}:(\\w+)`).exec(await cli(port, 'info', 'replication'))?.[1];
    const addNode = async () => {
      const port = await startNode();
      await clusterCli('add-node', `127.0.0.1:${port}`, addresses()[0]!);
      ports.push(port);
      await meetAll();
      // Until it has learnt the slot map, the new node refuses keys (MIGRATE into it answers CLUSTERDOWN).
      await eventually(async () => (await info(port, 'cluster_state')) === 'ok', 15_000, `cluster_state:ok on the new node ${port}`);
      return port;
    };
    const addReplica = async (primaryPort: number) => {
      const port = await startNode();
      await clusterCli('add-node', `127.0.0.1:${port}`, `127.0.0.1:${primaryPort}`, '--cluster-slave', '--cluster-master-id', await nodeId(primaryPort));
      ports.push(port);
      await meetAll();
      await eventually(async () => (await replication(port, 'master_link_status')) === 'up', 15_000, `replica ${port} in sync`);
      return port;
    };
    const failover = async (replicaPort: number) => {
      await cli(replicaPort, 'cluster', 'failover');
      await eventually(async () => (await replication(replicaPort, 'role')) === 'master', 15_000, `replica ${replicaPort} promoted`);
      for (const port of ports) await eventually(async () => (await info(port, 'cluster_state')) === 'ok', 15_000, `cluster_state:ok on ${port}`);
    };
    const moveSlot = async (slot: number, fromPort: number, toPort: number) => {
      const [fromId, toId] = [await nodeId(fromPort), await nodeId(toPort)];
      await cli(toPort, 'cluster', 'setslot', String(slot), 'importing', fromId);
      await cli(fromPort, 'cluster', 'setslot', String(slot), 'migrating', toId);
      const keys = (await cli(fromPort, 'cluster', 'getkeysinslot', String(slot), '1000')).split('\n').filter(Boolean);
      if (keys.length) await cli(fromPort, 'migrate', '127.0.0.1', String(toPort), '', '0', '5000', 'AUTH', password, 'KEYS', ...keys);
      // The new owner first, then the old one, then the other primaries (replicas follow theirs), as
      // redis-cli --cluster reshard does.
      const primaries = [];
      for (const port of ports) if ((await replication(port, 'role')) === 'master') primaries.push(port);
      for (const port of [toPort, fromPort, ...primaries.filter((other) => other !== toPort && other !== fromPort)]) {
        await cli(port, 'cluster', 'setslot', String(slot), 'node', toId);
      }
    };
    return { ports, password, nodesSetting: addresses().join(','), cli, addNode, addReplica, failover, moveSlot, destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}
