'use strict';
/** The demo tenants and logins of the embedded default; `npm start` prints these. */

const DEMO_PASSWORD = 'DemoPass123';

const DEMO_TENANTS = [
  {
    id: 'd0000000-0000-4000-8000-000000000001',
    name: 'Acme (Free)',
    subdomain: 'acme',
    plan: 'free',
    roles: ['tenant_admin', 'sales_user'],
  },
  {
    id: 'd0000000-0000-4000-8000-000000000002',
    name: 'Globex (Pro)',
    subdomain: 'globex',
    plan: 'pro',
    roles: ['tenant_admin', 'manager', 'sales_user', 'support_user', 'read_only'],
  },
  {
    id: 'd0000000-0000-4000-8000-000000000003',
    name: 'Initech (Enterprise)',
    subdomain: 'initech',
    plan: 'enterprise',
    roles: ['tenant_admin', 'manager', 'sales_user', 'support_user', 'read_only'],
  },
];

const demoEmail = (tenant, role) => `${role.replace('_', '.')}@${tenant.subdomain}.example.com`;

const demoLogins = () =>
  DEMO_TENANTS.flatMap((tenant) =>
    tenant.roles.map((role) => ({ tenant: tenant.name, tenantId: tenant.id, role, email: demoEmail(tenant, role) })),
  );

module.exports = { DEMO_PASSWORD, DEMO_TENANTS, demoEmail, demoLogins };
