'use strict';
/**
 * Demo data: a tenant per plan, one user per role, a few hundred CRM records each. Idempotent: a
 * tenant that exists is left alone. RLS is forced even for the owner, so each tenant's rows are
 * written inside a transaction scoped to it, exactly as the server does.
 */
const bcrypt = require('bcryptjs');
const { DEMO_PASSWORD, DEMO_TENANTS, demoEmail } = require('./support/demo-data');
const { randomGenerator } = require('./support/random');

const FIRST = ['Ada', 'Grace', 'Alan', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Radia', 'Edsger', 'Frances', 'Tim'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Ritchie', 'Perlman', 'Dijkstra', 'Allen', 'Berners-Lee'];
const COMPANIES = ['Umbrella', 'Stark Industries', 'Wayne Enterprises', 'Cyberdyne', 'Soylent', 'Tyrell', 'Wonka', 'Hooli', 'Vandelay', 'Aperture'];
const INDUSTRIES = ['software', 'manufacturing', 'retail', 'finance', 'healthcare', 'logistics'];
const STAGES = [
  ['qualification', 10],
  ['needs_analysis', 25],
  ['proposal', 50],
  ['negotiation', 75],
  ['closed_won', 100],
  ['closed_lost', 0],
];

exports.seed = async function seed(knex) {
  const templates = await knex('role_templates').select('key', 'name', 'permissions');
  for (const tenant of DEMO_TENANTS) {
    await knex.transaction(async (trx) => {
      // SET LOCAL, not set_config(): on Citus only the statement reaches the workers (docs/SCALING.md).
      await trx.raw(`SET LOCAL app.tenant_id = '${tenant.id}'`);
      const exists = await trx('tenants').where({ id: tenant.id }).first('id');
      if (exists) return;
      await seedTenant(trx, tenant, templates);
    });
  }
};

async function seedTenant(trx, tenant, templates) {
  const random = randomGenerator(tenant.subdomain);
  const tenant_id = tenant.id;
  await trx('tenants').insert({ id: tenant.id, name: tenant.name, subdomain: tenant.subdomain, plan: tenant.plan });
  await trx.raw('select app_create_default_pipeline(?)', [tenant_id]);

  const roles = await trx('roles')
    .insert(templates.map((t) => ({ tenant_id, key: t.key, name: t.name, permissions: t.permissions, is_system: true })))
    .returning(['id', 'key']);
  const roleId = Object.fromEntries(roles.map((r) => [r.key, r.id]));

  const users = [];
  for (const role of tenant.roles) {
    const [first, ...last] = role.split('_');
    users.push({
      tenant_id,
      email: demoEmail(tenant, role),
      password_hash: await bcrypt.hash(DEMO_PASSWORD, 10),
      first_name: capitalize(first),
      last_name: capitalize(last.join(' ') || 'User'),
      role_id: roleId[role],
      status: 'active',
      password_changed_at: new Date(),
    });
  }
  const userIds = (await trx('users').insert(users).returning('id')).map((u) => u.id);
  const owner = () => random.pick(userIds);
  const person = () => ({ first_name: random.pick(FIRST), last_name: random.pick(LAST) });
  const emailOf = (p, i) => `${p.first_name}.${p.last_name}.${i}@example.com`.toLowerCase().replace(/[^a-z0-9.@-]/g, '');
  const daysAgo = (max) => new Date(Date.now() - random.int(0, max) * 86_400_000);

  const accounts = await trx('accounts')
    .insert(
      COMPANIES.map((company, i) => ({
        tenant_id,
        name: `${company} ${tenant.subdomain === 'acme' ? '' : i + 1}`.trim(),
        domain: `${company.toLowerCase().replace(/[^a-z]/g, '')}.example.com`,
        industry: random.pick(INDUSTRIES),
        status: random.pick(['active', 'inactive', 'prospect']),
        owner_id: owner(),
        created_at: daysAgo(180),
      })),
    )
    .returning('id');

  const contacts = await trx('contacts')
    .insert(
      Array.from({ length: 60 }, (_, i) => {
        const p = person();
        return {
          tenant_id,
          ...p,
          email: emailOf(p, i),
          phone: `+1-555-01${String(i).padStart(2, '0')}`,
          title: random.pick(['CEO', 'CTO', 'Buyer', 'Engineer', 'Head of Sales']),
          account_id: random.pick(accounts).id,
          owner_id: owner(),
          created_at: daysAgo(180),
        };
      }),
    )
    .returning('id');

  await trx('leads').insert(
    Array.from({ length: 150 }, (_, i) => {
      const p = person();
      return {
        tenant_id,
        ...p,
        email: emailOf(p, 1000 + i),
        company: random.pick(COMPANIES),
        title: random.pick(['VP Sales', 'Founder', 'Procurement', 'Analyst']),
        source: random.pick(['website', 'referral', 'event', 'cold_call']),
        status: random.pick(['new', 'contacted', 'qualified', 'unqualified', 'lost']),
        score: random.int(0, 100),
        owner_id: owner(),
        created_at: daysAgo(120),
      };
    }),
  );

  const deals = await trx('deals')
    .insert(
      Array.from({ length: 40 }, (_, i) => {
        const [stage, probability] = random.pick(STAGES);
        return {
          tenant_id,
          name: `${random.pick(COMPANIES)} deal #${i + 1}`,
          amount: random.int(1, 200) * 500,
          currency: 'USD',
          stage,
          probability,
          expected_close_date: new Date(Date.now() + random.int(-30, 150) * 86_400_000).toISOString().slice(0, 10),
          account_id: random.pick(accounts).id,
          contact_id: random.pick(contacts).id,
          owner_id: owner(),
          created_at: daysAgo(90),
        };
      }),
    )
    .returning('id');

  await trx('tasks').insert(
    Array.from({ length: 30 }, (_, i) => ({
      tenant_id,
      title: `Follow up #${i + 1}`,
      status: random.pick(['open', 'in_progress', 'done']),
      priority: random.pick(['low', 'medium', 'high', 'urgent']),
      due_date: new Date(Date.now() + random.int(-10, 30) * 86_400_000),
      assignee_id: owner(),
      related_type: 'deal',
      related_id: random.pick(deals).id,
    })),
  );

  await trx('activities').insert(
    Array.from({ length: 50 }, (_, i) => ({
      tenant_id,
      type: random.pick(['call', 'email', 'meeting', 'note']),
      subject: `Touchpoint ${i + 1}`,
      body: 'Discussed next steps and pricing.',
      occurred_at: daysAgo(60),
      duration_minutes: random.int(5, 60),
      related_type: 'contact',
      related_id: random.pick(contacts).id,
      owner_id: owner(),
    })),
  );

  const ticketCount = 20;
  await trx('tickets').insert(
    Array.from({ length: ticketCount }, (_, i) => ({
      tenant_id,
      number: i + 1,
      subject: `Cannot export report ${i + 1}`,
      description: 'The export button spins forever.',
      status: random.pick(['open', 'in_progress', 'waiting_for_customer', 'resolved', 'closed']),
      priority: random.pick(['low', 'medium', 'high', 'urgent']),
      assignee_id: owner(),
      contact_id: random.pick(contacts).id,
      account_id: random.pick(accounts).id,
      created_at: daysAgo(30),
    })),
  );
  await trx('counters').insert({ tenant_id, name: 'tickets', value: ticketCount });
}

const capitalize = (word) => word.charAt(0).toUpperCase() + word.slice(1);
