import { Knex } from 'knex';
import { setLocal } from '../../infra/local-settings';
import { AppError, notFound } from '../../lib/errors';
import { creationKeyset, keysetPage, Pagination } from '../../lib/pagination';
import { publishPrincipalChange } from '../auth/principal-revocation';
import { CRM_RESOURCES } from '../roles/permissions';
import { PlatformActor, recordPlatformAudit } from './platform-audit';
import { ListTenantsQuery, UpdateTenantInput } from './tenants-admin.schema';

interface TenantRow {
  id: string;
  name: string;
  subdomain: string;
  plan: string;
  status: 'active' | 'suspended';
  suspendedAt: Date | null;
  suspendedReason: string | null;
  createdAt: Date;
}

const TENANT_COLUMNS = ['t.id', 't.name', 't.subdomain', 't.plan', 't.status', 't.suspendedAt', 't.suspendedReason', 't.createdAt'];

interface PlanColumns {
  planName: string;
  features: string[];
  quotas: Record<string, number | null>;
  requestsPerHour: number;
  monthlyPriceCents: number;
  currency: string;
}

interface BillingColumns {
  billingStatus: string;
  trialEndsAt: Date | null;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  stripeCustomerId: string | null;
  stripeSubscriptionId: string | null;
}

const BILLING_COLUMNS = ['t.billingStatus', 't.trialEndsAt', 't.currentPeriodEnd', 't.cancelAtPeriodEnd', 't.stripeCustomerId', 't.stripeSubscriptionId'];

const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, '\\$&')}%`;

/**
 * The admin console's view of tenants. Runs on the platform pool (`<db>_platform`): it reads every
 * tenant's rows through its own SELECT policies and may write only tenants' status and plan columns,
 * so nothing here can touch tenant data even by mistake. Every change is in platform_audit_logs.
 */
export function createTenantsAdminService(knex: Knex) {
  return {
    /** Oldest first, keyset-paged on (created_at, id). */
    async list(query: ListTenantsQuery): Promise<{ data: TenantRow[]; pagination: Pagination }> {
      const builder = knex('tenants as t').select(...TENANT_COLUMNS);
      if (query.status) builder.where('t.status', query.status);
      if (query.plan) builder.where('t.plan', query.plan);
      const q = query.q ?? query.search;
      if (q) {
        const pattern = likePattern(q);
        builder.where((where) =>
          where
            .whereILike('t.name', pattern)
            .orWhereILike('t.subdomain', pattern)
            // select 1: the platform role may not read every column of users (no password hashes).
            .orWhereExists(knex('users as u').select(knex.raw('1')).whereRaw('u.tenant_id = t.id').where('u.email', q).whereNull('u.deletedAt')),
        );
      }
      if (query.offset) builder.offset(query.offset);
      const { rows, pagination } = await keysetPage<TenantRow>(builder, creationKeyset('t'), query);
      return { data: rows, pagination };
    },

    /** The tenant with its plan's limits, users and live records per CRM resource, and its last activity. */
    async get(id: string) {
      const tenant = await knex('tenants as t')
        .join('plans as p', 'p.code', 't.plan')
        .where('t.id', id)
        .first<(TenantRow & PlanColumns & BillingColumns) | undefined>(
          ...TENANT_COLUMNS,
          'p.name as planName',
          'p.features',
          'p.quotas',
          'p.requestsPerHour',
          'p.monthlyPriceCents',
          'p.currency',
          ...BILLING_COLUMNS,
        );
      if (!tenant) throw notFound('Tenant');
      const live = (table: string) => knex(table).where('tenantId', id).whereNull('deletedAt');
      const counts = (await knex
        .select({
          users: live('users').count('*'),
          ...Object.fromEntries(CRM_RESOURCES.map((resource) => [resource, live(resource).count('*')])),
          lastAuditAt: knex('auditLogs').where('tenantId', id).max('occurredAt'),
          lastLoginAt: knex('users').where('tenantId', id).max('lastLoginAt'),
        })
        .first()) as Record<string, number> & { lastAuditAt: Date | null; lastLoginAt: Date | null };
      const { planName, features, quotas, requestsPerHour, monthlyPriceCents, currency, ...rest } = tenant;
      const { billingStatus, trialEndsAt, currentPeriodEnd, cancelAtPeriodEnd, stripeCustomerId, stripeSubscriptionId, ...summary } = rest;
      const activity = [counts.lastAuditAt, counts.lastLoginAt].filter((at): at is Date => at !== null);
      return {
        ...summary,
        planLimits: { name: planName, features, quotas, requestsPerHour, monthlyPriceCents, currency },
        billing: { status: billingStatus, trialEndsAt, currentPeriodEnd, cancelAtPeriodEnd, stripeCustomerId, stripeSubscriptionId },
        usage: {
          users: counts.users,
          records: Object.fromEntries(CRM_RESOURCES.map((resource) => [resource, counts[resource]])),
        },
        lastActivityAt: activity.length ? new Date(Math.max(...activity.map((at) => at.getTime()))) : null,
      };
    },

    /**
     * Suspends, reactivates and/or changes the plan, each change audited in the same transaction.
     * Asking for the state the tenant is already in changes and records nothing.
     */
    async update(id: string, input: UpdateTenantInput, actor: PlatformActor): Promise<TenantRow> {
      let changed = false;
      const row = await knex.transaction(async (trx) => {
        const current = await trx('tenants as t').where('t.id', id).forUpdate().first<TenantRow | undefined>(TENANT_COLUMNS);
        if (!current) throw notFound('Tenant');
        const entries: Array<{ action: string; details: Record<string, unknown> }> = [];
        const patch: Record<string, unknown> = {};
        if (input.status === 'suspended' && current.status !== 'suspended') {
          Object.assign(patch, { status: 'suspended', suspendedAt: trx.fn.now(), suspendedReason: input.reason ?? null });
          entries.push({ action: 'tenant.suspend', details: { reason: input.reason ?? null } });
        } else if (input.status === 'active' && current.status !== 'active') {
          Object.assign(patch, { status: 'active', suspendedAt: null, suspendedReason: null });
          entries.push({
            action: 'tenant.reactivate',
            details: { suspendedAt: current.suspendedAt, suspendedReason: current.suspendedReason },
          });
        }
        if (input.plan !== undefined && input.plan !== current.plan) {
          if (!(await trx('plans').where('code', input.plan).first('code'))) {
            throw new AppError('VALIDATION_ERROR', 'The request is invalid', [{ field: 'plan', message: '"plan" is not a known plan' }]);
          }
          // A plan staff assign is granted as is: no trial, nothing to pay through Stripe.
          Object.assign(patch, { plan: input.plan, billingStatus: 'active', trialEndsAt: null });
          entries.push({ action: 'tenant.plan_change', details: { from: current.plan, to: input.plan } });
        }
        if (entries.length === 0) return current;
        changed = true;
        const [updated] = await trx('tenants as t').where('t.id', id).update(patch, TENANT_COLUMNS);
        await recordPlatformAudit(
          trx,
          actor,
          entries.map((entry) => ({ ...entry, tenantId: id, targetType: 'tenant', targetId: id })),
        );
        if (patch.status === 'suspended') {
          // The tenant's admins are told by e-mail: a job enqueued in this transaction, in that tenant's name.
          await setLocal(trx, 'app.tenant_id', id);
          await trx.raw("select app_enqueue_job('notifications.organization', ?::jsonb)", [JSON.stringify({ notice: 'tenant_suspended' })]);
        }
        return updated as TenantRow;
      });
      // Status and plan are part of every caller of the tenant that an instance may hold in memory.
      if (changed) await publishPrincipalChange(knex, { tenantId: id });
      return row;
    },
  };
}
