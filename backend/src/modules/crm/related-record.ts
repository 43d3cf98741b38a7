import { tenantScope } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { RELATED_TYPES } from './field-schemas';
import { RecordData } from './resource-definition';

/** A task or activity may point at any CRM record: both halves are given together and the record exists. */
export async function assertRelatedExists(data: RecordData, existing?: RecordData): Promise<void> {
  if (data.relatedType === undefined && data.relatedId === undefined) return;
  const type = data.relatedType !== undefined ? data.relatedType : existing?.relatedType;
  const id = data.relatedId !== undefined ? data.relatedId : existing?.relatedId;
  if ((type === null || type === undefined) !== (id === null || id === undefined)) {
    throw new AppError('VALIDATION_ERROR', 'relatedType and relatedId go together', [
      { field: type ? 'relatedId' : 'relatedType', message: 'is required with the other' },
    ]);
  }
  if (!type) return;
  const table = RELATED_TYPES[type as keyof typeof RELATED_TYPES];
  const found = await tenantScope().trx(table).where({ id }).whereNull('deletedAt').first('id');
  if (!found) throw new AppError('VALIDATION_ERROR', 'The related record does not exist', [{ field: 'relatedId', message: `does not name an existing ${type}` }]);
}
