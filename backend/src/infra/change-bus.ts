import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Knex } from 'knex';
import pg from 'pg';
import { Logger } from './logger';

/** How often an instance sends itself a heartbeat over the bus, and how long one vouches for delivery. */
export const HEARTBEAT_MS = 250;
export const HEARTBEAT_VOUCHES_MS = 1_000;

/** What a subscriber hears: every message published by any instance, and its own heartbeats. */
export interface BusListener {
  message(text: string): void;
  /** One of this instance's heartbeats came back: messages published until now have reached it. */
  heartbeat(): void;
  /** The subscription is gone (until a later heartbeat): messages may be lost from now on. */
  lost(): void;
}

/**
 * Publish/subscribe between the instances of one deployment, for changes every instance must hear
 * about at once (a revoked session). Delivery is at most once and only to instances connected at the
 * time; so a subscriber also sends itself a heartbeat every HEARTBEAT_MS through the same path, and
 * what it keeps in memory is trusted only while those come back.
 */
export interface ChangeBus {
  publish(text: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Redis pub/sub: PUBLISH on the shared connection, SUBSCRIBE on a duplicate of it (a subscribed
 * connection can do nothing else). ioredis resubscribes after a reconnect; heartbeats lost meanwhile
 * are what tells the listener that messages may have been lost too.
 */
export function redisChangeBus(redis: Redis, channel: string, logger: Logger, listener?: BusListener): ChangeBus {
  if (!listener) return { publish: async (text) => void (await redis.publish(channel, text)), close: async () => undefined };
  const beatChannel = `${channel}:heartbeat:${randomBytes(8).toString('hex')}`;
  const subscriber = redis.duplicate();
  let healthy = true;
  subscriber.on('error', (error: Error) => {
    if (healthy) logger.warn('change bus: redis subscriber unavailable', { error: error.message });
    healthy = false;
    listener.lost();
  });
  subscriber.on('close', () => listener.lost());
  subscriber.on('ready', () => {
    healthy = true;
  });
  subscriber.on('message', (from: string, text: string) => {
    if (from === channel) listener.message(text);
    else if (from === beatChannel) listener.heartbeat();
  });
  subscriber.subscribe(channel, beatChannel).catch((error: Error) => logger.warn('change bus: subscribe failed', { error: error.message }));
  const timer = setInterval(() => {
    redis.publish(beatChannel, '').catch(() => undefined);
  }, HEARTBEAT_MS);
  timer.unref();
  return {
    publish: async (text) => void (await redis.publish(channel, text)),
    close: async () => {
      clearInterval(timer);
      subscriber.disconnect();
    },
  };
}

/**
 * PostgreSQL LISTEN/NOTIFY, for deployments without Redis: NOTIFY through the pool, LISTEN on a
 * connection of its own made with the pool's settings (so it needs a direct or session-pooled
 * connection: behind pgbouncer in transaction mode LISTEN hears nothing, the heartbeats stop, and the
 * listener trusts nothing). A lost connection is remade on the next heartbeat tick.
 */
export function postgresChangeBus(knex: Knex, channel: string, logger: Logger, listener?: BusListener): ChangeBus {
  const publish = async (text: string) => void (await knex.raw('select pg_notify(?, ?)', [channel, text]));
  if (!listener) return { publish, close: async () => undefined };
  const beatChannel = `${channel}_heartbeat_${randomBytes(8).toString('hex')}`;
  let client: pg.Client | undefined;
  let connecting = false;
  let closed = false;
  let healthy = true;

  const drop = (error?: Error) => {
    if (error && healthy) logger.warn('change bus: postgres listener unavailable', { error: error.message });
    healthy = false;
    listener.lost();
    const lost = client;
    client = undefined;
    lost?.end().catch(() => undefined);
  };
  const connect = async () => {
    connecting = true;
    const next = new pg.Client({ ...(knex.client.connectionSettings as pg.ClientConfig), application_name: 'crm-change-bus' });
    next.on('error', (error) => (client === next ? drop(error) : undefined));
    next.on('end', () => (client === next ? drop() : undefined));
    next.on('notification', ({ channel: from, payload }) => {
      if (from === channel) listener.message(payload ?? '');
      else if (from === beatChannel) listener.heartbeat();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${channel}; LISTEN ${beatChannel}`);
      if (closed) await next.end();
      else {
        client = next;
        healthy = true;
      }
    } catch (error) {
      drop(error as Error);
      next.end().catch(() => undefined);
    } finally {
      connecting = false;
    }
  };
  const timer = setInterval(() => {
    if (client) client.query(`NOTIFY ${beatChannel}`).catch((error: Error) => drop(error));
    else if (!connecting) void connect();
  }, HEARTBEAT_MS);
  timer.unref();
  void connect();
  return {
    publish,
    close: async () => {
      closed = true;
      clearInterval(timer);
      await client?.end().catch(() => undefined);
      client = undefined;
    },
  };
}
