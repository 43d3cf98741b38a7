import { Model, ModelClass, QueryBuilderType, TransactionOrKnex } from 'objection';
import { tenantScope } from './tenant-scope';

/**
 * Base of every tenant-owned model. Queries run in the current tenant's transaction and are filtered by
 * tenant_id; inserts are stamped with it. Row-level security enforces the same rule a second time.
 */
export class TenantModel extends Model {
  tenantId!: string;
  id!: string;

  static override query<M extends Model>(this: ModelClass<M>, trxOrKnex?: TransactionOrKnex): QueryBuilderType<M> {
    const { tenantId, trx } = tenantScope();
    const modelClass = this;
    const builder = Model.query.call(this, trxOrKnex ?? trx) as QueryBuilderType<M>;
    return builder.onBuild((query) => {
      if (!query.isInsert()) query.where(`${query.tableRefFor(modelClass)}.tenantId`, tenantId);
    }) as QueryBuilderType<M>;
  }

  override $beforeInsert(): void {
    this.tenantId = tenantScope().tenantId;
  }
}
