'use strict';
const { tenantColumns, tenantForeignKey, isolateTenantTable, touchUpdatedAt } = require('./support/tenant-table');

const TZ = { useTz: true };
const PRIORITIES = ['low', 'medium', 'high', 'urgent'];
const DEAL_STAGES = ['qualification', 'needs_analysis', 'proposal', 'negotiation', 'closed_won', 'closed_lost'];
const RELATED_TYPES = ['lead', 'contact', 'account', 'deal', 'ticket'];

async function createTenantTable(knex, name, { softDelete = true, privileges, touch = true } = {}, build) {
  await knex.schema.createTable(name, (t) => {
    tenantColumns(knex, t, { softDelete });
    build(t);
  });
  await isolateTenantTable(knex, name, privileges && { privileges });
  if (touch) await touchUpdatedAt(knex, name);
}

/** Keyset pagination indexes: (tenant_id, sort columns..., id). */
function pageable(t, ...sorts) {
  for (const sort of ['created_at', 'updated_at', ...sorts]) t.index(['tenant_id', ...[].concat(sort), 'id']);
}

/** 'simple' configuration: records are in any language, so no stemming or stop words. */
function searchable(t, columns) {
  const doc = columns.map((c) => `coalesce(${c}::text, '')`).join(` || ' ' || `);
  t.specificType('search', `tsvector GENERATED ALWAYS AS (to_tsvector('simple', ${doc})) STORED`);
  t.index(['tenant_id', 'search'], undefined, { storageEngineIndexType: 'gin' });
}

/** Email prefix search: queries must compare `email::text ILIKE ...`, as citext's own operators skip this index. */
function emailTrigram(knex, t, table) {
  t.index(['tenant_id', 'email'], undefined, { predicate: knex.whereNotNull('email') });
  t.index(['tenant_id', knex.raw('(email::text) gin_trgm_ops')], `${table}_email_trgm_idx`, {
    storageEngineIndexType: 'gin',
  });
}

/** Polymorphic link to a CRM record: no foreign key, so both parts are set or neither. */
function relatedTo(t, table) {
  t.enu('related_type', RELATED_TYPES);
  t.uuid('related_id');
  t.check('(?? IS NULL) = (?? IS NULL)', ['related_type', 'related_id'], `${table}_related_check`);
}

async function setNullForeignKeys(knex, table, targets) {
  for (const [column, target] of Object.entries(targets)) {
    await tenantForeignKey(knex, table, column, target, { onDelete: 'set null' });
  }
}

exports.up = async function up(knex) {
  await createTenantTable(knex, 'accounts', {}, (t) => {
    t.text('name').notNullable();
    t.text('domain');
    t.text('industry');
    t.text('size');
    t.text('phone');
    t.text('website');
    t.jsonb('address');
    t.enu('status', ['active', 'inactive', 'prospect']).notNullable().defaultTo('prospect');
    t.uuid('owner_id');
    searchable(t, ['name', 'domain', 'industry']);
    t.index(['tenant_id', 'owner_id']);
    t.index(['tenant_id', 'status']);
    pageable(t, 'name');
  });
  await setNullForeignKeys(knex, 'accounts', { owner_id: 'users' });

  await createTenantTable(knex, 'contacts', {}, (t) => {
    t.text('first_name');
    t.text('last_name');
    t.specificType('email', 'citext');
    t.text('phone');
    t.text('title');
    t.uuid('account_id');
    t.uuid('owner_id');
    t.jsonb('address');
    searchable(t, ['first_name', 'last_name', 'email', 'title']);
    emailTrigram(knex, t, 'contacts');
    t.index(['tenant_id', 'account_id']);
    t.index(['tenant_id', 'owner_id']);
    pageable(t, ['last_name', 'first_name']);
  });
  await setNullForeignKeys(knex, 'contacts', { account_id: 'accounts', owner_id: 'users' });

  // Created before leads so that leads can take all their foreign keys at once.
  await createTenantTable(knex, 'deals', {}, (t) => {
    t.text('name').notNullable();
    t.decimal('amount', 14, 2).notNullable().defaultTo(0);
    t.specificType('currency', 'char(3)').notNullable().defaultTo('USD').checkRegex('^[A-Z]{3}$');
    t.enu('stage', DEAL_STAGES).notNullable().defaultTo('qualification');
    t.integer('probability').checkBetween([0, 100]);
    t.date('expected_close_date');
    t.timestamp('closed_at', TZ);
    t.uuid('account_id');
    t.uuid('contact_id');
    t.uuid('owner_id');
    t.check('?? >= 0', ['amount'], 'deals_amount_check');
    searchable(t, ['name']);
    t.index(['tenant_id', 'stage']);
    t.index(['tenant_id', 'expected_close_date']);
    t.index(['tenant_id', 'account_id']);
    t.index(['tenant_id', 'contact_id']);
    t.index(['tenant_id', 'owner_id']);
    pageable(t, 'name');
  });
  await setNullForeignKeys(knex, 'deals', { account_id: 'accounts', contact_id: 'contacts', owner_id: 'users' });

  // History is never rewritten, and a hard-deleted deal's changes go by its ON DELETE CASCADE, which runs
  // with the table owner's rights: the runtime role needs no UPDATE or DELETE here.
  const appendOnly = { softDelete: false, privileges: 'SELECT, INSERT', touch: false };
  await createTenantTable(knex, 'deal_stage_changes', appendOnly, (t) => {
    t.uuid('deal_id').notNullable();
    t.enu('from_stage', DEAL_STAGES);
    t.enu('to_stage', DEAL_STAGES).notNullable();
    t.uuid('changed_by');
    t.timestamp('changed_at', TZ).notNullable().defaultTo(knex.fn.now());
    t.index(['tenant_id', 'deal_id', 'changed_at']);
  });
  await tenantForeignKey(knex, 'deal_stage_changes', 'deal_id', 'deals', { onDelete: 'cascade' });

  await createTenantTable(knex, 'leads', {}, (t) => {
    t.text('first_name');
    t.text('last_name');
    t.specificType('email', 'citext');
    t.text('phone');
    t.text('company');
    t.text('title');
    t.text('source');
    const statuses = ['new', 'contacted', 'qualified', 'unqualified', 'converted', 'lost'];
    t.enu('status', statuses).notNullable().defaultTo('new');
    t.integer('score').checkBetween([0, 100]);
    t.uuid('owner_id');
    t.text('notes');
    t.jsonb('attributes').notNullable().defaultTo('{}');
    t.timestamp('converted_at', TZ);
    t.uuid('converted_account_id');
    t.uuid('converted_contact_id');
    t.uuid('converted_deal_id');
    t.check(
      "jsonb_typeof(??) = 'object' AND pg_column_size(??) <= 16384",
      ['attributes', 'attributes'],
      'leads_attributes_check',
    );
    searchable(t, ['first_name', 'last_name', 'email', 'company', 'title', 'notes']);
    emailTrigram(knex, t, 'leads');
    t.index(['tenant_id', 'status']);
    t.index(['tenant_id', 'owner_id']);
    for (const column of ['converted_account_id', 'converted_contact_id', 'converted_deal_id']) {
      t.index(['tenant_id', column], undefined, { predicate: knex.whereNotNull(column) });
    }
    pageable(t, ['last_name', 'first_name']);
  });
  await setNullForeignKeys(knex, 'leads', {
    owner_id: 'users',
    converted_account_id: 'accounts',
    converted_contact_id: 'contacts',
    converted_deal_id: 'deals',
  });

  await createTenantTable(knex, 'tasks', {}, (t) => {
    t.text('title').notNullable();
    t.text('description');
    t.timestamp('due_date', TZ);
    t.enu('status', ['open', 'in_progress', 'done', 'cancelled']).notNullable().defaultTo('open');
    t.enu('priority', PRIORITIES).notNullable().defaultTo('medium');
    t.uuid('assignee_id');
    relatedTo(t, 'tasks');
    t.timestamp('completed_at', TZ);
    searchable(t, ['title', 'description']);
    t.index(['tenant_id', 'related_type', 'related_id']);
    t.index(['tenant_id', 'assignee_id']);
    pageable(t, 'due_date', 'title');
  });
  await setNullForeignKeys(knex, 'tasks', { assignee_id: 'users' });

  await createTenantTable(knex, 'activities', {}, (t) => {
    t.enu('type', ['call', 'email', 'meeting', 'note']).notNullable();
    t.text('subject').notNullable();
    t.text('body');
    t.timestamp('occurred_at', TZ).notNullable().defaultTo(knex.fn.now());
    t.integer('duration_minutes');
    relatedTo(t, 'activities');
    t.uuid('owner_id');
    t.check('?? >= 0', ['duration_minutes'], 'activities_duration_minutes_check');
    searchable(t, ['subject', 'body']);
    // Record timelines read a record's activities newest first.
    t.index(['tenant_id', 'related_type', 'related_id', 'occurred_at']);
    t.index(['tenant_id', 'owner_id']);
    pageable(t, 'occurred_at');
  });
  await setNullForeignKeys(knex, 'activities', { owner_id: 'users' });

  await createTenantTable(knex, 'tickets', {}, (t) => {
    t.bigInteger('number').notNullable();
    t.text('subject').notNullable();
    t.text('description');
    const statuses = ['open', 'in_progress', 'waiting_for_customer', 'resolved', 'closed'];
    t.enu('status', statuses).notNullable().defaultTo('open');
    t.enu('priority', PRIORITIES).notNullable().defaultTo('medium');
    t.uuid('assignee_id');
    t.uuid('contact_id');
    t.uuid('account_id');
    t.timestamp('resolved_at', TZ);
    t.timestamp('first_response_at', TZ);
    t.unique(['tenant_id', 'number']);
    searchable(t, ['subject', 'description']);
    t.index(['tenant_id', 'status']);
    t.index(['tenant_id', 'assignee_id']);
    t.index(['tenant_id', 'contact_id']);
    t.index(['tenant_id', 'account_id']);
    pageable(t);
  });
  await setNullForeignKeys(knex, 'tickets', { assignee_id: 'users', contact_id: 'contacts', account_id: 'accounts' });

  // Per-tenant sequences (ticket numbers): a row per name, bumped with UPDATE ... RETURNING.
  await knex.schema.createTable('counters', (t) => {
    t.uuid('tenant_id').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.text('name').notNullable();
    t.bigInteger('value').notNullable().defaultTo(0);
    t.primary(['tenant_id', 'name']);
  });
  await isolateTenantTable(knex, 'counters', { privileges: 'SELECT, INSERT, UPDATE' });
};

exports.down = async function down(knex) {
  const tables = [
    'counters',
    'tickets',
    'activities',
    'tasks',
    'leads',
    'deal_stage_changes',
    'deals',
    'contacts',
    'accounts',
  ];
  for (const table of tables) await knex.schema.dropTable(table);
};
