import { TenantModel } from '../../infra/tenant-model';

export class IdempotencyKey extends TenantModel {
  static override tableName = 'idempotencyKeys';
  static override jsonAttributes = ['responseBody', 'responseHeaders'];

  caller!: string;
  key!: string;
  fingerprint!: string;
  status!: 'in_progress' | 'completed';
  responseStatus!: number | null;
  responseBody!: unknown;
  responseHeaders!: Record<string, string> | null;
  lockedUntil!: Date | null;
  completedAt!: Date | null;
  expiresAt!: Date;
}
