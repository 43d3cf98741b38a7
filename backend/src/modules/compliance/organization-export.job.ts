import Joi from 'joi';
import { setLocal } from '../../infra/local-settings';
import { withTenant } from '../../infra/tenant-scope';
import { defineJob, tenantPayload } from '../../jobs/job-definition';
import { DataExportFormat } from './data-export.model';
import { writeExportContent } from './organization-export.writer';

export const ORGANIZATION_EXPORT_TASK = 'organization.export';

/**
 * Writes one requested export. Idempotent: only a pending or running export is (re)written, its earlier
 * chunks replaced in the same transaction; a failure after the last attempt marks it failed.
 */
export const organizationExportJob = defineJob({
  name: ORGANIZATION_EXPORT_TASK,
  payload: tenantPayload({ exportId: Joi.string().uuid().required() }),
  maxAttempts: 3,
  async run({ tenantId, exportId }, deps, job) {
    const claimed = await withTenant(deps.knex, tenantId, (trx) =>
      trx('dataExports')
        .where({ tenantId, id: exportId })
        .whereIn('status', ['pending', 'running'])
        .update({ status: 'running', startedAt: trx.fn.now(), error: null })
        .returning<Array<{ format: DataExportFormat }>>('format'),
    );
    if (!claimed[0]) {
      job.logger.info('export no longer pending: nothing to do', { exportId });
      return;
    }
    try {
      // One snapshot of the tenant for every table, so the export is consistent with itself.
      const size = await deps.knex.transaction(
        async (trx) => {
          await setLocal(trx, 'app.tenant_id', tenantId);
          const bytes = await writeExportContent(trx, tenantId, exportId, claimed[0]!.format);
          await trx('dataExports')
            .where({ tenantId, id: exportId })
            .update({
              status: 'completed',
              sizeBytes: bytes,
              completedAt: trx.fn.now(),
              expiresAt: trx.raw("now() + make_interval(days => ?)", [deps.config.compliance.exportTtlDays]),
            });
          return bytes;
        },
        { isolationLevel: 'repeatable read' },
      );
      job.logger.info('organization export written', { exportId, sizeBytes: size });
    } catch (error) {
      if (job.attempt >= job.maxAttempts) {
        await withTenant(deps.knex, tenantId, (trx) =>
          trx('dataExports').where({ tenantId, id: exportId }).update({ status: 'failed', error: 'The export could not be written' }),
        );
      }
      throw error;
    }
  },
});
