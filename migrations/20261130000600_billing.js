'use strict';
/**
 * Plans with prices, and each tenant's billing state (issue 17, docs/API.md "Billing").
 *
 * - plans: a monthly price (minor units) and its currency; free costs nothing.
 * - tenants: the subscription as the API shows it (billing_status, trial end, period end, cancel at
 *   period end, the card's brand and last four digits), the Stripe customer and subscription ids, and
 *   when the "trial ends soon" e-mail went out (so it goes out once). A tenant made by staff, a seed or
 *   a fixture is `active` on its plan; a self-registered paid plan starts `trialing`.
 * - billing_events: the Stripe event ids a tenant has processed, so a replayed webhook is a no-op.
 *   The runtime role only reads and inserts them.
 *
 * The platform role (admin console) reads the new columns, finds a tenant by its Stripe customer, and may
 * set billing_status and trial_ends_at when staff assign a plan by hand.
 */
const {
  tenantColumns,
  isolateTenantTable,
  grantPlatformRead,
  platformGroupRole,
} = require('./support/tenant-table');
const { quoteIdent } = require('./support/sql-quote');

const PRICES = [
  { code: 'free', monthly_price_cents: 0 },
  { code: 'pro', monthly_price_cents: 4900 },
  { code: 'enterprise', monthly_price_cents: 19900 },
];

const BILLING_STATUSES = ['trialing', 'active', 'past_due', 'trial_expired', 'canceled'];

const TENANT_BILLING_COLUMNS = [
  'billing_status',
  'trial_ends_at',
  'trial_reminded_at',
  'current_period_end',
  'cancel_at_period_end',
  'payment_method_brand',
  'payment_method_last4',
  'stripe_customer_id',
  'stripe_subscription_id',
];

const quoteIdents = (names) => names.map(quoteIdent).join(', ');

exports.up = async function up(knex) {
  const platform = await platformGroupRole(knex);

  await knex.schema.alterTable('plans', (t) => {
    t.integer('monthly_price_cents').notNullable().defaultTo(0);
    t.text('currency').notNullable().defaultTo('usd');
  });
  for (const price of PRICES) await knex('plans').where({ code: price.code }).update({ monthly_price_cents: price.monthly_price_cents });
  await knex.raw('GRANT SELECT (monthly_price_cents, currency) ON plans TO ??', [platform]);

  await knex.schema.alterTable('tenants', (t) => {
    t.text('billing_status').notNullable().defaultTo('active');
    t.timestamp('trial_ends_at', { useTz: true });
    t.timestamp('trial_reminded_at', { useTz: true });
    t.timestamp('current_period_end', { useTz: true });
    t.boolean('cancel_at_period_end').notNullable().defaultTo(false);
    t.text('payment_method_brand');
    t.text('payment_method_last4');
    t.text('stripe_customer_id');
    t.text('stripe_subscription_id');
  });
  await knex.raw(
    `ALTER TABLE tenants ADD CONSTRAINT tenants_billing_status_check CHECK (billing_status IN (${BILLING_STATUSES.map((s) => `'${s}'`).join(', ')}))`,
  );
  await knex.raw("ALTER TABLE tenants ADD CONSTRAINT tenants_trial_end_check CHECK (billing_status <> 'trialing' OR trial_ends_at IS NOT NULL)");
  // A webhook names the customer; one tenant per customer.
  await knex.raw('CREATE UNIQUE INDEX tenants_stripe_customer_key ON tenants (stripe_customer_id) WHERE stripe_customer_id IS NOT NULL');
  // The trial sweep reads only trialing tenants.
  await knex.raw("CREATE INDEX tenants_trial_ends_at_idx ON tenants (trial_ends_at) WHERE billing_status = 'trialing'");
  await knex.raw(`GRANT SELECT (${quoteIdents(TENANT_BILLING_COLUMNS)}) ON tenants TO ??`, [platform]);
  await knex.raw('GRANT UPDATE (billing_status, trial_ends_at) ON tenants TO ??', [platform]);

  await knex.schema.createTable('billing_events', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.text('stripe_event_id').notNullable();
    t.text('type').notNullable();
    t.unique(['tenant_id', 'stripe_event_id']);
  });
  await isolateTenantTable(knex, 'billing_events', { privileges: 'SELECT, INSERT' });
  await grantPlatformRead(knex, 'billing_events');
};

exports.down = async function down(knex) {
  const platform = await platformGroupRole(knex);
  await knex.schema.dropTable('billing_events');
  await knex.raw('REVOKE UPDATE (billing_status, trial_ends_at) ON tenants FROM ??', [platform]);
  await knex.raw(`REVOKE SELECT (${quoteIdents(TENANT_BILLING_COLUMNS)}) ON tenants FROM ??`, [platform]);
  await knex.raw('DROP INDEX tenants_trial_ends_at_idx');
  await knex.raw('DROP INDEX tenants_stripe_customer_key');
  await knex.raw('ALTER TABLE tenants DROP CONSTRAINT tenants_billing_status_check, DROP CONSTRAINT tenants_trial_end_check');
  await knex.schema.alterTable('tenants', (t) => t.dropColumns(...TENANT_BILLING_COLUMNS));
  await knex.raw('REVOKE SELECT (monthly_price_cents, currency) ON plans FROM ??', [platform]);
  await knex.schema.alterTable('plans', (t) => t.dropColumns('monthly_price_cents', 'currency'));
};
