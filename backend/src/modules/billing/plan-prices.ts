import { tenantScope } from '../../infra/tenant-scope';

export interface PlanPrice {
  code: string;
  name: string;
  monthlyPriceCents: number;
  currency: string;
}

/** A plan with its monthly price, read in the current tenant transaction (plans are global data). */
export async function planPrice(code: string): Promise<PlanPrice | undefined> {
  return tenantScope()
    .trx('plans')
    .where({ code })
    .first<PlanPrice | undefined>('code', 'name', 'monthlyPriceCents', 'currency');
}

/** A sign-up naming a plan that costs money starts a trial of it, never the paid plan itself. */
export async function trialEndFor(code: string, trialDays: number, now = new Date()): Promise<Date | undefined> {
  const plan = await planPrice(code);
  if (!plan || plan.monthlyPriceCents === 0) return undefined;
  return new Date(now.getTime() + trialDays * 86_400_000);
}
