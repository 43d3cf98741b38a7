import Joi from 'joi';
import { AppDeps } from '../../app-deps';
import { AppError } from '../../lib/errors';
import { AnyRouteInput, defineRoute, noContent, raw, RouteDefinition } from '../../http/route';
import { passwordSchema } from './passwords';
import { createPasswordResetService } from './password-reset.service';

const ACCEPTED = { message: 'If an account matches, a reset code has been sent to its email address' };

export function passwordResetRoutes(deps: AppDeps): RouteDefinition[] {
  const resets = createPasswordResetService(deps);
  const client = (input: AnyRouteInput) => ({ ip: input.ip, userAgent: input.userAgent });
  const tags = ['Auth'];
  return [
    defineRoute({
      method: 'post',
      path: '/auth/forgot-password',
      rateLimit: 'login',
      permission: 'public',
      summary: 'E-mail a single-use password reset code (valid 30 minutes); the answer is the same whether the email exists or not',
      description:
        'The tenant comes from X-Tenant-ID, the subdomain or `tenantId`, as for sign-in; without one, every organization of that email gets a code. The 202 comes before any account is looked up, so its timing is the same for known and unknown addresses; at most 3 requests per address and hour make a code.',
      tags,
      schema: { body: Joi.object<{ email: string; tenantId?: string }>({ email: Joi.string().trim().lowercase().email().max(254).required(), tenantId: Joi.string().uuid() }) },
      response: { status: 202, description: 'Accepted, whatever the email', schema: Joi.object({ message: Joi.string().required() }) },
      handler: async (input) => {
        const { body } = input;
        if (body.tenantId && input.requestedTenantId && body.tenantId !== input.requestedTenantId) {
          throw new AppError('TENANT_MISMATCH', 'tenantId and X-Tenant-ID name different tenants');
        }
        // The answer does not wait for the work: for a known address it writes a code, a mail and an audit
        // entry, for an unknown one nothing, and the time to the answer must not tell them apart.
        void resets.request(body.email, body.tenantId ?? input.requestedTenantId, client(input)).catch((error: unknown) => {
          deps.logger.error('password reset request failed', { component: 'auth', error });
        });
        return raw(202, { data: ACCEPTED });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/reset-password',
      rateLimit: 'auth',
      permission: 'public',
      summary: 'Set a new password with a reset code; the code is spent and every session of the account ends',
      description: 'An unknown, expired or already used code answers 401.',
      tags,
      schema: { body: Joi.object<{ token: string; newPassword: string }>({ token: Joi.string().max(200).required(), newPassword: passwordSchema.required() }) },
      response: { status: 204, description: 'The password is changed', errors: [401] },
      handler: async (input) => {
        await resets.reset(input.body.token, input.body.newPassword, client(input));
        return noContent();
      },
    }),
  ];
}
