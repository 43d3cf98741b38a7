import { TenantModel } from '../../infra/tenant-model';

export type TenantStatus = 'active' | 'suspended';

/** Where the tenant stands with billing (tenants.billing_status). */
export type BillingStatus = 'trialing' | 'active' | 'past_due' | 'trial_expired' | 'canceled';

export class Tenant extends TenantModel {
  static override tableName = 'tenants';
  static override tenantColumn = 'id' as const;

  name!: string;
  subdomain!: string;
  plan!: string;
  status!: TenantStatus;
  billingStatus!: BillingStatus;
  trialEndsAt!: Date | null;
  /** The organization refuses support impersonation (organization settings: allowImpersonation off). */
  impersonationOptOut!: boolean;
  /** Every user must sign in with TOTP. */
  mfaRequired!: boolean;
  createdAt!: Date;
  updatedAt!: Date;
}
