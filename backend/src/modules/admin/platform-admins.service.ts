import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { Logger } from '../../infra/logger';
import { AppError, notFound } from '../../lib/errors';
import { signPlatformToken } from '../auth/access-tokens';
import { hashPassword, verifyPassword } from '../auth/passwords';
import { PlatformAdminPrincipal } from '../auth/principal';
import { PlatformAdmin } from './platform-admin.model';
import { presentPlatformAdmin } from './platform-admin.presenter';

/**
 * At boot: creates the first super admin from SUPER_ADMIN_EMAIL / SUPER_ADMIN_PASSWORD unless an admin
 * with that email exists. An existing admin is left alone, so changing the variable never resets a password.
 */
export async function ensureSuperAdmin(knex: Knex, config: AppConfig, logger: Logger): Promise<void> {
  const wanted = config.auth.superAdmin;
  if (!wanted) return;
  const email = wanted.email.toLowerCase();
  if (await PlatformAdmin.query(knex).findOne({ email })) return;
  const passwordHash = await hashPassword(wanted.password, config.auth.bcryptCost);
  // Several instances may boot at once: the unique email decides, and only the winner logs.
  const inserted = await PlatformAdmin.query(knex)
    .insert({ email, passwordHash, role: 'super_admin', status: 'active' })
    .onConflict('email')
    .ignore()
    .returning('id');
  if (inserted.id) logger.info('platform super admin created', { email });
}

export function createPlatformAdminsService({ knex, config }: { knex: Knex; config: AppConfig }) {
  const badCredentials = () => new AppError('UNAUTHORIZED', 'Invalid email or password');

  return {
    /** Unknown, disabled and wrong-password sign-ins cost the same bcrypt comparison and get the same 401. */
    async login(input: { email: string; password: string }) {
      const admin = await PlatformAdmin.query(knex).findOne({ email: input.email });
      const hash = admin?.status === 'active' ? admin.passwordHash : undefined;
      if (!admin || !(await verifyPassword(input.password, hash, config.auth.bcryptCost))) throw badCredentials();
      const signedIn = await PlatformAdmin.query(knex).patchAndFetchById(admin.id, { lastLoginAt: new Date() });
      const access = signPlatformToken(config.jwt, { adminId: admin.id, role: admin.role });
      return {
        admin: presentPlatformAdmin(signedIn),
        tokens: { accessToken: access.token, tokenType: 'Bearer', expiresIn: access.expiresIn },
      };
    },

    async me(principal: PlatformAdminPrincipal) {
      const admin = await PlatformAdmin.query(knex).findById(principal.adminId);
      if (!admin) throw notFound('Platform admin');
      return presentPlatformAdmin(admin);
    },
  };
}
