import Joi from 'joi';
import { AppDeps } from '../../app-deps';
import { AnyRouteInput, created, defineRoute, noContent, ok, principalOf, RouteDefinition } from '../../http/route';
import { createAuthService } from './auth.service';
import { loginMfaBody, mfaCodeBody, mfaSetupSchema, recoveryCodesSchema } from './mfa.schema';
import { changePasswordBody, loginBody, loginAnswerSchema, refreshBody, registerBody, sessionParams, signedInSchema } from './auth.schema';
import { clearedRefreshCookie, REFRESH_COOKIE, refreshCookie } from './refresh-cookie';
import { listActiveSessions, revokeOwnSession } from './sessions.service';

export function authRoutes(deps: AppDeps): RouteDefinition[] {
  const auth = createAuthService(deps);
  const client = (input: AnyRouteInput) => ({ ip: input.ip, userAgent: input.userAgent });
  const withCookie = (result: { tokens: { refreshToken: string } }) => ({
    'Set-Cookie': refreshCookie(result.tokens.refreshToken, deps.config.jwt.refreshTtlSeconds),
  });
  const tags = ['Auth'];

  return [
    defineRoute({
      method: 'post',
      path: '/auth/register',
      rateLimit: 'signup',
      permission: 'public',
      summary: 'Create an organization (tenant) and its first user, a tenant admin',
      tags,
      schema: { body: registerBody },
      response: { status: 201, description: 'The organization, its first user (a tenant admin) and a token pair', schema: signedInSchema },
      handler: async (input) => {
        const result = await auth.register(input.body, client(input));
        return created(result, withCookie(result));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/login',
      rateLimit: 'login',
      permission: 'public',
      summary: 'Sign in with email and password',
      tags,
      response: {
        status: 200,
        description: 'Signed in: the user, the tenant and a token pair; with MFA on, `mfaRequired` and the `mfaToken` for POST /auth/login/mfa',
        schema: loginAnswerSchema,
      },
      schema: { body: loginBody },
      handler: async (input) => {
        const result = await auth.login(input.body, input.requestedTenantId, client(input));
        return 'mfaRequired' in result ? ok(result, { 'Cache-Control': 'no-store' }) : ok(result, withCookie(result));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/login/mfa',
      rateLimit: 'login',
      permission: 'public',
      summary: 'Second sign-in step when MFA is on: `mfaToken` with a TOTP `code` or a `recoveryCode`; each code works once',
      description: 'A wrong code counts against the challenge (5 tries) and the sign-in rate limit; 401 either way.',
      tags,
      response: { status: 200, description: 'Signed in: the user, the tenant and a token pair', schema: signedInSchema, errors: [401] },
      schema: { body: loginMfaBody },
      handler: async (input) => {
        const result = await auth.loginMfa(input.body, client(input));
        return ok(result, withCookie(result));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/mfa/setup',
      auditResource: 'user',
      permission: 'authenticated',
      usersOnly: true,
      summary: 'Starts TOTP enrolment: a new secret and its otpauth:// URL; MFA is on once POST /auth/mfa/enable gets a right code',
      response: { status: 200, description: 'The secret to enrol', schema: mfaSetupSchema },
      tags,
      handler: async (input) => ok(await auth.mfaSetup(principalOf(input, 'user')), { 'Cache-Control': 'no-store' }),
    }),
    defineRoute({
      method: 'post',
      path: '/auth/mfa/enable',
      auditResource: 'user',
      permission: 'authenticated',
      usersOnly: true,
      summary: 'Turns MFA on with a first code from the app; answers ten single-use recovery codes, shown only now',
      response: { status: 200, description: 'MFA is on', schema: recoveryCodesSchema },
      tags,
      schema: { body: mfaCodeBody },
      handler: async (input) => ok(await auth.mfaEnable(principalOf(input, 'user'), input.body.code), { 'Cache-Control': 'no-store' }),
    }),
    defineRoute({
      method: 'post',
      path: '/auth/mfa/disable',
      auditResource: 'user',
      permission: 'authenticated',
      usersOnly: true,
      summary: 'Turns MFA off with a current code; every other session of the user ends',
      response: { status: 204, description: 'MFA is off' },
      tags,
      schema: { body: mfaCodeBody },
      handler: async (input) => {
        await auth.mfaDisable(principalOf(input, 'user'), input.body.code);
        return noContent();
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/refresh',
      rateLimit: 'auth',
      permission: 'public',
      summary: 'Exchange a refresh token (body or httpOnly cookie) for a new pair; the old one is spent',
      tags,
      schema: { body: refreshBody },
      response: { status: 200, description: 'A new token pair; the old refresh token is spent', schema: signedInSchema },
      handler: async (input) => {
        const result = await auth.refresh(input.body.refreshToken ?? input.cookies[REFRESH_COOKIE]);
        return ok(result, withCookie(result));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/logout',
      auditResource: 'session',
      permission: 'authenticated',
      usersOnly: true,
      allowedWhilePendingDeletion: true,
      summary: 'Sign out: the refresh family is revoked and the access token stops working at once',
      response: { status: 204, description: 'Signed out' },
      tags,
      handler: async (input) => {
        await auth.logout(principalOf(input, 'user'));
        return noContent({ 'Set-Cookie': clearedRefreshCookie() });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/auth/me',
      permission: 'authenticated',
      usersOnly: true,
      summary: 'The signed-in user, tenant, role and effective permissions',
      tags,
      handler: async (input) => ok(await auth.me(principalOf(input, 'user'))),
    }),
    defineRoute({
      method: 'post',
      path: '/auth/password',
      auditResource: 'user',
      permission: 'authenticated',
      usersOnly: true,
      summary: 'Change password; every other session of the user is revoked',
      response: { status: 204, description: 'Changed' },
      tags,
      schema: { body: changePasswordBody },
      handler: async (input) => {
        await auth.changePassword(principalOf(input, 'user'), input.body);
        return noContent();
      },
    }),
    defineRoute({
      method: 'get',
      path: '/sessions',
      permission: 'authenticated',
      usersOnly: true,
      summary: "The caller's active sessions",
      response: { status: 200, description: 'The sessions', schema: Joi.array().items(Joi.object().unknown()) },
      tags: ['Sessions'],
      handler: async (input) => {
        const principal = principalOf(input, 'user');
        const sessions = await listActiveSessions(principal.userId);
        return ok(
          sessions.map((session) => ({
            id: session.id,
            createdAt: session.createdAt,
            lastUsedAt: session.lastUsedAt,
            expiresAt: session.expiresAt,
            ip: session.ip,
            userAgent: session.userAgent,
            current: session.id === principal.sessionId,
          })),
        );
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/sessions/:id',
      auditResource: 'session',
      permission: 'authenticated',
      usersOnly: true,
      allowedWhilePendingDeletion: true,
      summary: 'Sign out one of the caller’s sessions',
      tags: ['Sessions'],
      schema: { params: sessionParams },
      handler: async (input) => {
        await revokeOwnSession(principalOf(input, 'user').userId, input.params.id);
        return noContent();
      },
    }),
  ];
}
