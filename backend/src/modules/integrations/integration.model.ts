import { TenantModel } from '../../infra/tenant-model';
import { IntegrationType } from './integration-types';

export class Integration extends TenantModel {
  static override tableName = 'integrations';

  type!: IntegrationType;
  name!: string;
  active!: boolean;
  /** The non-secret fields only. */
  config!: Record<string, unknown>;
  /** The secret fields as one credential envelope: never presented, never logged. */
  secretsEncrypted!: string | null;
  disabledReason!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
}
