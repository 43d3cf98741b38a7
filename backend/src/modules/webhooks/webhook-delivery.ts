import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { Logger } from '../../infra/logger';
import { CircuitOpenError, outboundCallsOf, OutboundTimeoutError } from '../../infra/outbound/outbound-call';
import { withTenant } from '../../infra/tenant-scope';
import { decryptCredential, rowContext } from '../credentials/credential-crypto';
import { slackMessage } from '../integrations/slack-message';
import { forgetTargets } from './delivery-targets';
import { DestinationRefused, VettedDestination, vetDestination } from './destination-guard';
import { DELIVERY_TIMEOUT_MS, HttpOutcome, postJson } from './webhook-http';
import { enqueueDeliveries, OutboxEvent } from './webhook-outbox';
import { classify, isTransient, retryDelayMs } from './retry-schedule';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signatureHeader } from './webhook-signature';

export interface DeliveryDeps {
  config: AppConfig;
  knex: Knex;
  logger: Logger;
}

interface ClaimedDelivery {
  id: string;
  eventId: string;
  subscriptionId: string | null;
  integrationId: string | null;
  attempts: number;
  retryUntil: Date;
}

interface Request {
  url: string;
  body: string;
  headers: Record<string, string>;
}

/** Why a target cannot be sent to at all: the delivery fails at once, without a request. */
class Undeliverable extends Error {}

/** How long a run holds a delivery: longer than one attempt can take. */
const CLAIM_SECONDS = 60;

/**
 * One attempt at one delivery, idempotent: only a pending delivery that is due and not held by another
 * run is attempted, and no database transaction stays open while the receiver answers.
 */
export async function attemptDelivery(deps: DeliveryDeps, tenantId: string, deliveryId: string): Promise<HttpOutcome & { outcome: string } | undefined> {
  const outbound = outboundCallsOf(deps.config);
  const claimed = await withTenant(deps.knex, tenantId, async (trx) => {
    const due = (await dueAndFree(trx, deliveryId).first('subscriptionId', 'integrationId')) as Pick<ClaimedDelivery, 'subscriptionId' | 'integrationId'> | undefined;
    if (!due) return undefined;
    // The endpoint's breaker is open: no request, no attempt counted; the delivery waits for the probe.
    const endpoint = endpointOf(due);
    if (outbound.stateOf(endpoint) === 'open') return { postponed: await postpone(trx, deliveryId, outbound.retryAfterSeconds(endpoint), false) };
    const [delivery] = (await dueAndFree(trx, deliveryId)
      .update({ lockedUntil: trx.raw(`now() + interval '${CLAIM_SECONDS} seconds'`), attempts: trx.raw('attempts + 1'), lastAttemptAt: trx.fn.now() })
      .returning(['id', 'eventId', 'subscriptionId', 'integrationId', 'attempts', 'retryUntil'])) as ClaimedDelivery[];
    if (!delivery) return undefined;
    try {
      return { delivery, request: await requestFor(trx, deps.config, tenantId, delivery) };
    } catch (error) {
      if (!(error instanceof Undeliverable)) throw error;
      return { delivery, refused: error.message };
    }
  });
  if (!claimed || 'postponed' in claimed) return undefined;
  const { delivery } = claimed;
  let result: HttpOutcome;
  if ('refused' in claimed) result = { durationMs: 0, error: claimed.refused };
  else {
    try {
      const destination = await vetDestination(claimed.request.url, {
        allowPrivateNetworks: deps.config.webhooks.allowPrivateNetworks,
        requireHttps: deps.config.env === 'production',
      });
      result = await send(deps, endpointOf(delivery), destination, claimed.request);
    } catch (error) {
      if (error instanceof CircuitOpenError) {
        // Another delivery is the half-open probe (or the breaker opened meanwhile): this one was not sent.
        await withTenant(deps.knex, tenantId, (trx) => postpone(trx, deliveryId, error.retryAfterSeconds, true));
        return undefined;
      }
      if (!(error instanceof DestinationRefused)) throw error;
      result = { durationMs: 0, error: `destination refused: ${error.message}` };
    }
  }
  const refused = 'refused' in claimed || result.error?.startsWith('destination refused');
  const nextAttemptAt = new Date(Date.now() + retryDelayMs(delivery.attempts));
  const outcome = refused ? 'failed' : classify(result.status, nextAttemptAt < new Date(delivery.retryUntil));
  await withTenant(deps.knex, tenantId, async (trx) => {
    await trx('webhookDeliveryAttempts').insert({
      tenantId,
      deliveryId,
      attempt: delivery.attempts,
      outcome,
      responseStatus: result.status ?? null,
      durationMs: result.durationMs,
      error: result.error ?? null,
      responseExcerpt: result.excerpt ?? null,
    });
    await trx('webhookDeliveries')
      .where({ id: deliveryId })
      .update({
        status: outcome === 'retrying' ? 'pending' : outcome,
        nextAttemptAt: outcome === 'retrying' ? nextAttemptAt : null,
        lockedUntil: null,
        responseStatus: result.status ?? null,
        durationMs: result.durationMs,
        lastError: result.error ?? null,
      });
    if (outcome === 'retrying') await enqueueDeliveries([deliveryId], nextAttemptAt);
    // The receiver says the endpoint is gone for good: stop sending there until someone turns it back on.
    if (result.status === 410) {
      const reason = `The endpoint answered 410 Gone on ${new Date().toISOString()}`;
      if (delivery.subscriptionId) await trx('webhookSubscriptions').where({ id: delivery.subscriptionId }).update({ active: false, disabledReason: reason });
      if (delivery.integrationId) await trx('integrations').where({ id: delivery.integrationId }).update({ active: false, disabledReason: reason });
    }
  });
  // This instance stops storing events for a target it just turned off; others within TARGETS_CACHE_MS.
  if (result.status === 410) forgetTargets(tenantId);
  deps.logger.info('webhook delivery attempted', {
    component: 'webhooks',
    tenantId,
    deliveryId,
    attempt: delivery.attempts,
    outcome,
    responseStatus: result.status,
    durationMs: result.durationMs,
    error: result.error,
  });
  return { ...result, outcome };
}

/** The delivery if it is pending, due, and not held by another run. */
const dueAndFree = (trx: Knex.Transaction, deliveryId: string) =>
  trx('webhookDeliveries')
    .where({ id: deliveryId, status: 'pending' })
    .where((when) => when.whereNull('nextAttemptAt').orWhere('nextAttemptAt', '<=', trx.fn.now()))
    .where((free) => free.whereNull('lockedUntil').orWhere('lockedUntil', '<', trx.fn.now()));

/** The breaker's key: each subscription and each integration is an endpoint of its own, failing or not. */
const endpointOf = (target: Pick<ClaimedDelivery, 'subscriptionId' | 'integrationId'>): string =>
  target.subscriptionId ? `webhook:${target.subscriptionId}` : `integration:${target.integrationId}`;

/** A receiver that is down (no answer, 429, 5xx): thrown so that the endpoint's breaker counts it. */
class ReceiverDown extends Error {
  constructor(readonly outcome: HttpOutcome) {
    super('the receiver is down');
  }
}

/**
 * One POST through the outbound policy: the delivery's deadline, the endpoint's breaker, and no immediate
 * retry (a delivery is not known to be idempotent at the receiver; it has its own retry schedule).
 */
async function send(deps: DeliveryDeps, endpoint: string, destination: VettedDestination, request: Request): Promise<HttpOutcome> {
  const started = Date.now();
  try {
    return await outboundCallsOf(deps.config).call(
      { destination: endpoint, timeoutMs: DELIVERY_TIMEOUT_MS, idempotent: false, isOutage: (error) => error instanceof ReceiverDown },
      async (signal) => {
        const outcome = await postJson(destination, request.body, request.headers, signal);
        if (isTransient(outcome.status)) throw new ReceiverDown(outcome);
        return outcome;
      },
    );
  } catch (error) {
    if (error instanceof ReceiverDown) return error.outcome;
    if (error instanceof OutboundTimeoutError) return { durationMs: Date.now() - started, error: `timed out after ${DELIVERY_TIMEOUT_MS} ms` };
    throw error;
  }
}

/** Back to the queue for when the endpoint's breaker lets a probe through; `undoClaim` when it had been claimed. */
async function postpone(trx: Knex.Transaction, deliveryId: string, retryAfterSeconds: number, undoClaim: boolean): Promise<Date> {
  const nextAttemptAt = new Date(Date.now() + retryAfterSeconds * 1000);
  await trx('webhookDeliveries')
    .where({ id: deliveryId })
    .update({
      nextAttemptAt,
      lockedUntil: null,
      lastError: 'not sent: the endpoint\'s circuit breaker is open after repeated failures',
      ...(undoClaim && { attempts: trx.raw('attempts - 1') }),
    });
  await enqueueDeliveries([deliveryId], nextAttemptAt);
  return nextAttemptAt;
}

/** The request for a delivery: the signed event for a subscription or custom webhook, a Slack message for Slack. */
async function requestFor(trx: Knex.Transaction, config: AppConfig, tenantId: string, delivery: ClaimedDelivery): Promise<Request> {
  const event = (await trx('webhookEvents').where({ id: delivery.eventId }).first('id', 'type', 'data', 'createdAt', 'resourceType', 'resourceId')) as
    | (OutboxEvent & { createdAt: Date })
    | undefined;
  if (!event) throw new Undeliverable('the event no longer exists');
  const body = JSON.stringify({ id: event.id, type: event.type, createdAt: new Date(event.createdAt).toISOString(), data: event.data });
  const { subscriptionId } = delivery;
  if (subscriptionId) {
    const subscription = await trx('webhookSubscriptions')
      .where({ id: subscriptionId })
      .first('url', 'active', 'secretEncrypted', 'previousSecretEncrypted', trx.raw('previous_secret_expires_at > now() as "previousSecretSigns"'));
    if (!subscription?.active) throw new Undeliverable('the subscription is inactive');
    const context = rowContext('webhook_subscriptions', tenantId, subscriptionId);
    const secret = unseal(() => decryptCredential(config.credentialKeys, subscription.secretEncrypted, context));
    const previous = subscription.previousSecretSigns
      ? unseal(() => decryptCredential(config.credentialKeys, subscription.previousSecretEncrypted, context))
      : undefined;
    return { url: subscription.url, body, headers: signed(secret, body, event.id, previous) };
  }
  const integration = await trx('integrations').where({ id: delivery.integrationId! }).first('type', 'active', 'config', 'secretsEncrypted');
  if (!integration?.active) throw new Undeliverable('the integration is inactive');
  const secrets = integration.secretsEncrypted
    ? (JSON.parse(unseal(() => decryptCredential(config.credentialKeys, integration.secretsEncrypted, rowContext('integrations', tenantId, delivery.integrationId!)))) as Record<string, string>)
    : {};
  if (integration.type === 'slack_notification') {
    return { url: secrets.webhookUrl!, body: JSON.stringify(slackMessage(event, integration.config.channel)), headers: {} };
  }
  return { url: integration.config.url, body, headers: secrets.secret ? signed(secrets.secret, body, event.id) : { [EVENT_ID_HEADER]: event.id } };
}

/** A credential under a key that is no longer configured cannot become readable by retrying: the delivery fails. */
function unseal(decrypt: () => string): string {
  try {
    return decrypt();
  } catch {
    throw new Undeliverable('the stored secret cannot be decrypted with the configured CREDENTIALS_KEYS');
  }
}

function signed(secret: string, body: string, eventId: string, previousSecret?: string): Record<string, string> {
  return { [EVENT_ID_HEADER]: eventId, [SIGNATURE_HEADER]: signatureHeader(secret, body, Math.floor(Date.now() / 1000), previousSecret) };
}
