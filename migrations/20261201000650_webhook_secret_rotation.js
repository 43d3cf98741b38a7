'use strict';
/**
 * Rotating a webhook subscription's signing secret with an overlap: the secret it replaced is kept,
 * encrypted under CREDENTIALS_KEYS like the current one, until the overlap ends, and deliveries carry a
 * signature under each meanwhile, so a receiver can switch secrets without dropping a delivery. The
 * platform role's column grant (20261122001400) never named these columns, so it cannot read them.
 */

exports.up = async function up(knex) {
  await knex.schema.alterTable('webhook_subscriptions', (t) => {
    t.text('previous_secret_encrypted');
    t.timestamp('previous_secret_expires_at', { useTz: true });
  });
};

exports.down = async function down(knex) {
  await knex.schema.alterTable('webhook_subscriptions', (t) => {
    t.dropColumn('previous_secret_encrypted');
    t.dropColumn('previous_secret_expires_at');
  });
};
