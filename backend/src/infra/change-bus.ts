import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { Knex } from 'knex';
import pg from 'pg';
import { Logger } from './logger';
import { isCluster, RedisClient } from './redis';

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
 *
 * On a Redis Cluster: sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7+), with both channels in one hash
 * slot (the braces around the name). So the changes and the heartbeats take one path, through the
 * primary owning that slot, in order, exactly as through a single Redis: when that path fails, the
 * heartbeats stop too. (Classic PUBLISH on a cluster goes to any node and reaches the others over the
 * cluster bus: a change and a later heartbeat could travel different links, and a lost change would
 * go unnoticed.) ioredis keeps one subscriber connection on that primary and moves it after a failover.
 */
export function redisChangeBus(redis: RedisClient, channel: string, logger: Logger, listener?: BusListener): ChangeBus {
  return isCluster(redis)
    ? changeBusOver(shardedPubSub(redis, `{${channel}}`), logger, listener)
    : changeBusOver(classicPubSub(redis, channel), logger, listener);
}

function changeBusOver<T extends RedisClient>(bus: RedisPubSub<T>, logger: Logger, listener?: BusListener): ChangeBus {
  const publish = async (text: string) => void (await bus.publish(bus.channel, text));
  if (!listener) return { publish, close: async () => undefined };
  const beatChannel = `${bus.channel}:heartbeat:${randomBytes(8).toString('hex')}`;
  const subscriber = bus.subscriber();
  let healthy = true;
  subscriber.on('error', (error: Error) => {
    if (healthy) logger.warn('change bus: redis subscriber unavailable', { error: error.message });
    healthy = false;
    listener.lost();
  });
  for (const event of bus.lostEvents) subscriber.on(event, () => listener.lost());
  subscriber.on('ready', () => {
    healthy = true;
  });
  subscriber.on(bus.messageEvent, (from: string, text: string) => {
    if (from === bus.channel) listener.message(text);
    else if (from === beatChannel) listener.heartbeat();
  });
  // A subscription refused (Redis unreachable at start) is asked for again on the next tick; once
  // made, ioredis keeps it across reconnections.
  let subscription: 'none' | 'asked' | 'made' = 'none';
  let refusals = 0;
  const subscribe = () => {
    subscription = 'asked';
    bus.subscribe(subscriber, [bus.channel, beatChannel]).then(
      () => {
        subscription = 'made';
        refusals = 0;
      },
      (error: Error) => {
        if (refusals++ === 0) logger.warn('change bus: subscribe failed', { error: error.message });
        subscription = 'none';
      },
    );
  };
  subscribe();
  const timer = setInterval(() => {
    if (subscription === 'none') subscribe();
    bus.publish(beatChannel, '').catch(() => undefined);
  }, HEARTBEAT_MS);
  timer.unref();
  return {
    publish,
    close: async () => {
      clearInterval(timer);
      subscriber.disconnect();
    },
  };
}

interface RedisPubSub<T extends RedisClient> {
  channel: string;
  publish(channel: string, text: string): Promise<unknown>;
  subscriber(): T;
  subscribe(subscriber: T, channels: string[]): Promise<unknown>;
  messageEvent: 'message' | 'smessage';
  /** Events of the subscribing client that mean its subscription is gone for now. */
  lostEvents: string[];
}

function classicPubSub(redis: Redis, channel: string): RedisPubSub<Redis> {
  return {
    channel,
    publish: (to, text) => redis.publish(to, text),
    subscriber: () => redis.duplicate(),
    subscribe: (subscriber, channels) => subscriber.subscribe(...channels),
    messageEvent: 'message',
    lostEvents: ['close'],
  };
}

function shardedPubSub(cluster: Cluster, channel: string): RedisPubSub<Cluster> {
  return {
    channel,
    publish: (to, text) => cluster.spublish(to, text),
    subscriber: () => cluster.duplicate([], { shardedSubscribers: true }),
    subscribe: (subscriber, channels) => subscriber.ssubscribe(...channels),
    messageEvent: 'smessage',
    // `-node` here is the subscriber connection to the slot's primary ending; `-subscriber`, ioredis
    // replacing it after a topology change.
    lostEvents: ['close', '-node', '-subscriber'],
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
