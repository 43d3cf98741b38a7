import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { AppError } from '../../lib/errors';
import { decryptCredential, encryptCredential } from '../credentials/credential-crypto';
import { acceptedStep, newRecoveryCodes, newTotpSecret, otpauthUrl, recoveryCodeHash } from './totp';

/** What an account proves with at sign-in: a current TOTP code, or one of its recovery codes. */
export type SecondFactor = { code: string } | { recoveryCode: string };

/** Where an account kind keeps its MFA state: platform staff (global tables) or tenant users (tenant tables). */
export interface FactorStore {
  /** The accounts' table, with mfa_secret_encrypted, mfa_pending_secret_encrypted, mfa_enabled_at, mfa_last_step. */
  accounts: string;
  /** The recovery codes' table, its column naming the account, and the one holding a code's hash. */
  recoveryCodes: string;
  owner: string;
  hash: string;
  /** Columns every new recovery code row carries besides these (a tenant table's tenant_id). */
  rowDefaults(): Record<string, unknown>;
  /** The authenticated context of an account's secret: copied onto another row, it does not decrypt. */
  contextOf(accountId: string): string;
}

interface MfaRow {
  id: string;
  email: string;
  mfaSecretEncrypted: string | null;
  mfaPendingSecretEncrypted: string | null;
  mfaEnabledAt: Date | null;
}

const MFA_COLUMNS = ['id', 'email', 'mfaSecretEncrypted', 'mfaPendingSecretEncrypted', 'mfaEnabledAt'];
const wrongCode = () => new AppError('VALIDATION_ERROR', 'The code is not right', [{ field: 'code', message: 'is wrong, expired or already used' }]);

/**
 * TOTP (RFC 6238 through otpauth) for one kind of account. The secret is kept encrypted under
 * CREDENTIALS_KEYS; the last accepted time step is kept so that no code is accepted twice; recovery
 * codes are kept hashed and spent on use. Every function runs in the caller's transaction (for tenant
 * users, their tenant's: row-level security applies).
 */
export function createTotpFactors(config: AppConfig, store: FactorStore) {
  const keys = config.credentialKeys;
  const load = async (trx: Knex.Transaction, id: string): Promise<MfaRow> =>
    (await trx(store.accounts).where({ id }).forUpdate().first<MfaRow>(MFA_COLUMNS))!;

  /** Accepts a code once: its step must be later than the last step accepted (a conditional update, so two racers cannot both win). */
  async function spendCode(trx: Knex.Transaction, id: string, secret: string, code: string): Promise<boolean> {
    const step = acceptedStep(secret, code);
    if (step === undefined) return false;
    const updated = await trx(store.accounts)
      .where({ id })
      .where((q) => q.whereNull('mfaLastStep').orWhere('mfaLastStep', '<', step))
      .update({ mfaLastStep: step });
    return updated === 1;
  }

  async function spendRecoveryCode(trx: Knex.Transaction, id: string, code: string): Promise<boolean> {
    const updated = await trx(store.recoveryCodes)
      .where({ [store.owner]: id, [store.hash]: recoveryCodeHash(code) })
      .whereNull('usedAt')
      .update({ usedAt: new Date() });
    return updated === 1;
  }

  /** True when the factor is right and was not used before; a right one is spent. */
  async function verify(trx: Knex.Transaction, id: string, factor: SecondFactor): Promise<boolean> {
    const row = await load(trx, id);
    if (!row.mfaEnabledAt || !row.mfaSecretEncrypted) return false;
    if ('recoveryCode' in factor) return spendRecoveryCode(trx, id, factor.recoveryCode);
    return spendCode(trx, id, decryptCredential(keys, row.mfaSecretEncrypted, store.contextOf(id)), factor.code);
  }

  return {
    verify,

    async setup(trx: Knex.Transaction, id: string): Promise<{ secret: string; otpauthUrl: string }> {
      const row = await load(trx, id);
      if (row.mfaEnabledAt) throw new AppError('CONFLICT', 'MFA is already on: disable it first to enrol a new device');
      const secret = newTotpSecret();
      await trx(store.accounts).where({ id }).update({ mfaPendingSecretEncrypted: encryptCredential(keys, secret, store.contextOf(id)) });
      return { secret, otpauthUrl: otpauthUrl(secret, row.email) };
    },

    /** The first right code turns MFA on and returns ten recovery codes, shown this once. */
    async enable(trx: Knex.Transaction, id: string, code: string): Promise<{ recoveryCodes: string[] }> {
      const row = await load(trx, id);
      if (row.mfaEnabledAt) throw new AppError('CONFLICT', 'MFA is already on');
      if (!row.mfaPendingSecretEncrypted) throw new AppError('CONFLICT', 'Start with the MFA setup call');
      const secret = decryptCredential(keys, row.mfaPendingSecretEncrypted, store.contextOf(id));
      if (!(await spendCode(trx, id, secret, code))) throw wrongCode();
      const codes = newRecoveryCodes();
      await trx(store.accounts)
        .where({ id })
        .update({ mfaSecretEncrypted: row.mfaPendingSecretEncrypted, mfaPendingSecretEncrypted: null, mfaEnabledAt: new Date() });
      await trx(store.recoveryCodes).where({ [store.owner]: id }).del();
      await trx(store.recoveryCodes).insert(codes.map(({ hash }) => ({ ...store.rowDefaults(), [store.owner]: id, [store.hash]: hash })));
      return { recoveryCodes: codes.map(({ code: shown }) => shown) };
    },

    async disable(trx: Knex.Transaction, id: string, code: string): Promise<void> {
      const row = await load(trx, id);
      if (!row.mfaEnabledAt) throw new AppError('CONFLICT', 'MFA is not on');
      if (!(await verify(trx, id, { code }))) throw wrongCode();
      await trx(store.accounts).where({ id }).update({ mfaSecretEncrypted: null, mfaPendingSecretEncrypted: null, mfaEnabledAt: null, mfaLastStep: null });
      await trx(store.recoveryCodes).where({ [store.owner]: id }).del();
    },
  };
}
