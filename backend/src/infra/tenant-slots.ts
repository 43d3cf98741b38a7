import { AppError } from '../lib/errors';

/** Seconds a refused caller is told to wait: slots free as transfers end, which is not known in advance. */
const RETRY_AFTER_SECONDS = 5;

/**
 * At most `perTenant` transfers of one kind (downloads, imports) per tenant at once in this process,
 * so one tenant's transfers cannot take every socket, buffer and connection an instance has. A slot is
 * taken or refused at once (429), never queued.
 */
export class TenantSlots {
  private readonly taken = new Map<string, number>();

  constructor(
    private readonly perTenant: number,
    private readonly what: string,
  ) {}

  /**
   * Takes a slot for the tenant, or throws 429 RATE_LIMITED; the returned function frees it (once).
   * `limit` overrides the cap for this tenant (one that depends on its plan).
   */
  take(tenantId: string, limit = this.perTenant): () => void {
    const count = this.taken.get(tenantId) ?? 0;
    if (count >= limit) {
      throw new AppError(
        'RATE_LIMITED',
        `At most ${limit} ${this.what} of an organization at a time: retry when one has finished`,
        undefined,
        { 'Retry-After': String(RETRY_AFTER_SECONDS) },
      );
    }
    this.taken.set(tenantId, count + 1);
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      const left = (this.taken.get(tenantId) ?? 1) - 1;
      if (left > 0) this.taken.set(tenantId, left);
      else this.taken.delete(tenantId);
    };
  }
}
