import { AppDeps } from '../app-deps';
import { withTenant } from '../infra/tenant-scope';
import { toAppError } from '../middleware/error-handler';
import { AuditActor } from '../modules/audit/audit-context';
import { writeAuditNow } from '../modules/audit/audit-store';
import { RequestFrame } from './request-frame';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A write that fails once its caller was let through (stages 8-10) is audited as `request.failed`, under
 * the resource the route declares (the name its successes carry: `lead`, `import`), in a transaction of
 * its own since the work's rolled back. Failing to audit it is logged; the caller still gets its error.
 */
export async function auditFailedWrite(deps: AppDeps, frame: RequestFrame, tenantId: string, actor: AuditActor, error: unknown): Promise<void> {
  const { route, req } = frame;
  const resourceId = Object.values(req.params).find((value): value is string => typeof value === 'string' && UUID.test(value));
  try {
    await withTenant(deps.knex, tenantId, () =>
      writeAuditNow(actor, [
        {
          action: 'request.failed',
          resourceType: route.auditResource,
          ...(resourceId ? { resourceId } : {}),
          after: { method: route.method.toUpperCase(), route: route.path },
          result: 'failure',
          errorCode: toAppError(error)?.code ?? 'INTERNAL_ERROR',
        },
      ]),
    );
  } catch (auditError) {
    deps.logger.error('could not audit a failed request', { error: auditError });
  }
}
