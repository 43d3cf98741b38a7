import { TenantModel } from '../../infra/tenant-model';

/** A sign-in: the family of refresh tokens that rotate from one login. */
export class Session extends TenantModel {
  static override tableName = 'sessions';

  userId!: string;
  ip!: string | null;
  userAgent!: string | null;
  lastUsedAt!: Date | null;
  expiresAt!: Date;
  revokedAt!: Date | null;
  revokedReason!: string | null;
  createdAt!: Date;
}

export class RefreshToken extends TenantModel {
  static override tableName = 'refreshTokens';

  sessionId!: string;
  userId!: string;
  tokenHash!: string;
  expiresAt!: Date;
  usedAt!: Date | null;
  replacedById!: string | null;
}

export class RevokedAccessToken extends TenantModel {
  static override tableName = 'revokedAccessTokens';

  jti!: string;
  userId!: string;
  expiresAt!: Date;
}
