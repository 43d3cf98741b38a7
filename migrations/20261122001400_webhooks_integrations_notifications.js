'use strict';
/**
 * Outbound webhooks (subscriptions, an outbox of events, one delivery per event and target with a log
 * of every attempt), per-tenant integrations whose secrets are encrypted at rest, the notification
 * (email) log and password-reset tokens.
 *
 * Encrypted credentials (`*_encrypted`) are ciphertext under a key the database never sees; the
 * platform role still gets no read on them (its grant is per column), nor on token hashes.
 */
const {
  tenantColumns,
  tenantForeignKey,
  isolateTenantTable,
  grantPlatformRead,
  platformGroupRole,
  touchUpdatedAt,
} = require('./support/tenant-table');

const TZ = { useTz: true };

async function createTenantTable(knex, name, { touch = true } = {}, build) {
  await knex.schema.createTable(name, (t) => {
    tenantColumns(knex, t, { softDelete: false });
    build(t);
  });
  await isolateTenantTable(knex, name);
  await grantPlatformRead(knex, name);
  if (touch) await touchUpdatedAt(knex, name);
}

async function hideFromPlatform(knex, table, column) {
  await knex.raw('REVOKE SELECT (??) ON ?? FROM ??', [column, table, await platformGroupRole(knex)]);
}

exports.up = async function up(knex) {
  await createTenantTable(knex, 'webhook_subscriptions', {}, (t) => {
    t.text('url').notNullable();
    t.specificType('events', 'text[]').notNullable();
    t.text('description');
    t.boolean('active').notNullable().defaultTo(true);
    t.text('secret_encrypted').notNullable();
    t.text('disabled_reason');
    t.index(['tenant_id', 'created_at', 'id']);
  });
  await hideFromPlatform(knex, 'webhook_subscriptions', 'secret_encrypted');

  await createTenantTable(knex, 'integrations', {}, (t) => {
    t.enu('type', ['slack_notification', 'custom_webhook', 'stripe_payment', 'capricorn_edi']).notNullable();
    t.text('name').notNullable();
    t.boolean('active').notNullable().defaultTo(true);
    // The non-secret part of the configuration; the secret fields live only in secrets_encrypted.
    t.jsonb('config').notNullable().defaultTo('{}');
    t.text('secrets_encrypted');
    t.text('disabled_reason');
    t.index(['tenant_id', 'created_at', 'id']);
  });
  await hideFromPlatform(knex, 'integrations', 'secrets_encrypted');

  await createTenantTable(knex, 'webhook_events', { touch: false }, (t) => {
    t.text('type').notNullable();
    t.text('resource_type');
    t.uuid('resource_id');
    t.jsonb('data').notNullable();
    t.index(['tenant_id', 'created_at', 'id']);
  });

  await createTenantTable(knex, 'webhook_deliveries', {}, (t) => {
    t.uuid('event_id').notNullable();
    t.uuid('subscription_id');
    t.uuid('integration_id');
    t.enu('status', ['pending', 'succeeded', 'failed']).notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', TZ);
    // Retries stop after this (24 hours after the delivery was made, or after a manual retry).
    t.timestamp('retry_until', TZ).notNullable();
    // A run holds a delivery until then, so a sweeper's re-enqueue never sends it twice at once.
    t.timestamp('locked_until', TZ);
    t.timestamp('last_attempt_at', TZ);
    t.integer('response_status');
    t.integer('duration_ms');
    t.text('last_error');
    t.index(['tenant_id', 'subscription_id', 'created_at', 'id']);
    t.index(['tenant_id', 'event_id']);
  });
  await knex.raw(
    'ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_one_target CHECK (num_nonnulls(subscription_id, integration_id) = 1)',
  );
  await knex.raw("CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'");
  await tenantForeignKey(knex, 'webhook_deliveries', 'event_id', 'webhook_events', { onDelete: 'cascade' });
  await tenantForeignKey(knex, 'webhook_deliveries', 'subscription_id', 'webhook_subscriptions', { onDelete: 'cascade' });
  await tenantForeignKey(knex, 'webhook_deliveries', 'integration_id', 'integrations', { onDelete: 'cascade' });

  await createTenantTable(knex, 'webhook_delivery_attempts', { touch: false }, (t) => {
    t.uuid('delivery_id').notNullable();
    t.integer('attempt').notNullable();
    t.enu('outcome', ['succeeded', 'retrying', 'failed']).notNullable();
    t.integer('response_status');
    t.integer('duration_ms').notNullable();
    t.text('error');
    // The first 4 KB of the receiver's answer: enough to debug, never a whole page.
    t.text('response_excerpt');
    t.index(['tenant_id', 'delivery_id', 'attempt']);
  });
  await tenantForeignKey(knex, 'webhook_delivery_attempts', 'delivery_id', 'webhook_deliveries', { onDelete: 'cascade' });

  await createTenantTable(knex, 'notifications', {}, (t) => {
    t.text('template').notNullable();
    t.text('recipient').notNullable();
    t.uuid('user_id');
    t.enu('status', ['pending', 'sent', 'failed', 'bounced']).notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error');
    t.timestamp('sent_at', TZ);
    t.text('message_id');
    // The rendered message, encrypted like a credential (it may carry a reset token); cleared once an
    // SMTP server took it, kept (as the JSON transport's log) in development and tests.
    t.text('message_encrypted');
    t.index(['tenant_id', 'created_at', 'id']);
  });
  await hideFromPlatform(knex, 'notifications', 'message_encrypted');

  await createTenantTable(knex, 'password_reset_tokens', { touch: false }, (t) => {
    t.uuid('user_id').notNullable();
    t.text('token_hash').notNullable();
    t.timestamp('expires_at', TZ).notNullable();
    t.timestamp('used_at', TZ);
    t.unique(['tenant_id', 'token_hash']);
  });
  await tenantForeignKey(knex, 'password_reset_tokens', 'user_id', 'users', { onDelete: 'cascade' });
  // A reset token is all its bearer presents: found by its hash before any tenant is bound, like an invitation.
  await knex.raw(
    "CREATE POLICY password_reset_tokens_credential_lookup ON password_reset_tokens FOR SELECT USING (token_hash = current_setting('app.lookup_token', true))",
  );
  // Suspending a tenant (platform role) queues its admins' e-mail in the same transaction.
  await knex.raw('GRANT EXECUTE ON FUNCTION app_enqueue_job(text, jsonb, timestamptz, text, integer) TO ??', [await platformGroupRole(knex)]);
};

exports.down = async function down(knex) {
  await knex.raw('REVOKE EXECUTE ON FUNCTION app_enqueue_job(text, jsonb, timestamptz, text, integer) FROM ??', [await platformGroupRole(knex)]);
  for (const table of [
    'password_reset_tokens',
    'notifications',
    'webhook_delivery_attempts',
    'webhook_deliveries',
    'webhook_events',
    'integrations',
    'webhook_subscriptions',
  ]) {
    await knex.schema.dropTable(table);
  }
};
