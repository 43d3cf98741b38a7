import { Constructor, Model, QueryBuilderType, TransactionOrKnex } from 'objection';
import { tenantScope } from './tenant-scope';

/**
 * Base of every tenant-owned model. Queries run in the current tenant's transaction and are filtered by
 * tenant_id; inserts are stamped with it. Row-level security enforces the same rule a second time.
 */
export class TenantModel extends Model {
  /** The column naming the owning tenant; the tenants table itself uses its id. */
  static tenantColumn: 'tenantId' | 'id' = 'tenantId';
  id!: string;

  static override query<M extends Model>(this: Constructor<M>, trxOrKnex?: TransactionOrKnex): QueryBuilderType<M> {
    const { tenantId, trx } = tenantScope();
    const modelClass = this as unknown as typeof TenantModel;
    const builder = Model.query.call(this, trxOrKnex ?? trx) as QueryBuilderType<M>;
    return builder.onBuild((query) => {
      if (!query.isInsert()) query.where(`${query.tableRefFor(modelClass)}.${modelClass.tenantColumn}`, tenantId);
    }) as QueryBuilderType<M>;
  }

  override $beforeInsert(): void {
    const column = (this.constructor as typeof TenantModel).tenantColumn;
    (this as Record<string, unknown>)[column] = tenantScope().tenantId;
  }
}
