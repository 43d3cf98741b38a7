import Joi from 'joi';
import { AppDeps } from '../../app-deps';
import { AnyRouteInput, defineRoute, noContent, ok, principalOf, RouteDefinition, RouteResult } from '../../http/route';
import {
  acceptStaffInviteBody,
  adminLoginBody,
  staffRefreshSchema,
  staffSchema,
  staffSessionParams,
  staffSessionSchema,
  staffSignInSchema,
  staffVerifySchema,
} from './admin-auth.schema';
import { loginMfaBody, mfaCodeBody, mfaSetupSchema, recoveryCodesSchema } from '../auth/mfa.schema';
import { createPlatformAdminsService, StaffSignIn } from './platform-admins.service';
import { clearedStaffRefreshCookie, STAFF_REFRESH_COOKIE, staffRefreshCookie, StaffTokens } from './staff-sessions';

/** Staff sign-in and one's own account. Every signed-in route needs only `account:self`, held by every role. */
export function adminAuthRoutes(deps: AppDeps): RouteDefinition[] {
  const admins = createPlatformAdminsService({ knex: deps.platformKnex, config: deps.config });
  const tags = ['Platform admin'];
  const self = 'platform:account:self' as const;
  const context = (input: AnyRouteInput) => ({ ip: input.ip, userAgent: input.userAgent, requestId: input.requestId });
  const caller = (input: AnyRouteInput) => principalOf(input, 'platform_admin');

  /** The access token in the body, the refresh token only as the HttpOnly cookie scoped to /api/v1/admin/auth. */
  const withTokens = (data: Record<string, unknown>, tokens: StaffTokens): RouteResult =>
    ok(
      { ...data, tokens: { accessToken: tokens.accessToken, tokenType: tokens.tokenType, expiresIn: tokens.expiresIn } },
      { 'Set-Cookie': staffRefreshCookie(tokens.refreshToken, deps.config.jwt.refreshTtlSeconds), 'Cache-Control': 'no-store' },
    );
  const signInAnswer = (result: StaffSignIn): RouteResult =>
    result.kind === 'signed_in'
      ? withTokens({ admin: result.admin }, result.tokens)
      : ok({ mfaRequired: true, mfaToken: result.mfaToken, expiresIn: result.expiresIn }, { 'Cache-Control': 'no-store' });

  return [
    defineRoute({
      method: 'post',
      path: '/admin/auth/login',
      rateLimit: 'login',
      permission: 'public',
      summary: 'Staff sign-in: the access token (audience crm-admin), or `mfaRequired` and a single-use `mfaToken` when MFA is on',
      description: 'The refresh token is set as an HttpOnly, Secure, SameSite=Strict cookie on /api/v1/admin/auth.',
      response: { status: 200, description: 'Signed in, or the MFA step to take', schema: staffSignInSchema, errors: [401] },
      tags,
      schema: { body: adminLoginBody },
      handler: async (input) => signInAnswer(await admins.login(input.body, context(input))),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/auth/login/mfa',
      rateLimit: 'login',
      permission: 'public',
      summary: 'Second sign-in step: `mfaToken` with a TOTP `code` or a `recoveryCode`; each code works once',
      description: 'A wrong code counts against the challenge (5 tries) and the sign-in rate limit; 401 either way.',
      response: { status: 200, description: 'Signed in', schema: staffSignInSchema, errors: [401] },
      tags,
      schema: { body: loginMfaBody },
      handler: async (input) => signInAnswer(await admins.loginMfa(input.body, context(input))),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/auth/refresh',
      rateLimit: 'auth',
      permission: 'public',
      summary: 'A new access token for the refresh cookie, which rotates; a spent refresh token presented again ends its session',
      response: { status: 200, description: 'A new access token (and refresh cookie)', schema: staffRefreshSchema, errors: [401] },
      tags,
      handler: async (input) => {
        const { tokens } = await admins.refresh(input.cookies[STAFF_REFRESH_COOKIE], context(input));
        return withTokens({}, tokens);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/admin/auth/accept-invite',
      rateLimit: 'auth',
      permission: 'public',
      summary: 'An invited staff member sets a password with the invitation code, and is signed in',
      response: { status: 200, description: 'Signed in', schema: staffSignInSchema, errors: [401] },
      tags,
      schema: { body: acceptStaffInviteBody },
      handler: async (input) => signInAnswer(await admins.acceptInvite(input.body, context(input))),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/auth/logout',
      permission: self,
      summary: 'Sign out: the session ends, its access and refresh tokens stop working at once',
      response: { status: 204, description: 'Signed out' },
      tags,
      handler: async (input) => {
        await admins.logout(caller(input), context(input));
        return noContent({ 'Set-Cookie': clearedStaffRefreshCookie() });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/auth/verify',
      permission: self,
      summary: 'Whether the token is good: the staff member, the session, the permissions, and whether MFA must be set up first',
      response: { status: 200, description: 'The token is valid', schema: staffVerifySchema },
      tags,
      handler: async (input) => ok(await admins.verify(caller(input))),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/auth/sessions',
      permission: self,
      summary: "The caller's live console sessions, newest first",
      response: { status: 200, description: 'The sessions', schema: Joi.array().items(staffSessionSchema) },
      tags,
      handler: async (input) => ok(await admins.sessions(caller(input))),
    }),
    defineRoute({
      method: 'delete',
      path: '/admin/auth/sessions/:id',
      permission: self,
      summary: "Ends one of the caller's console sessions",
      response: { status: 204, description: 'Ended' },
      tags,
      schema: { params: staffSessionParams },
      handler: async (input) => {
        await admins.revokeSession(caller(input), input.params.id, context(input));
        return noContent();
      },
    }),
    defineRoute({
      method: 'post',
      path: '/admin/auth/mfa/setup',
      permission: self,
      summary: 'Starts TOTP enrolment: a new secret and its otpauth:// URL; MFA is on once POST /admin/auth/mfa/enable gets a right code',
      response: { status: 200, description: 'The secret to enrol', schema: mfaSetupSchema },
      tags,
      handler: async (input) => ok(await admins.mfaSetup(caller(input), context(input)), { 'Cache-Control': 'no-store' }),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/auth/mfa/enable',
      permission: self,
      summary: 'Turns MFA on with a first code from the app; answers ten single-use recovery codes, shown only now',
      response: { status: 200, description: 'MFA is on', schema: recoveryCodesSchema },
      tags,
      schema: { body: mfaCodeBody },
      handler: async (input) => ok(await admins.mfaEnable(caller(input), input.body.code, context(input)), { 'Cache-Control': 'no-store' }),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/auth/mfa/disable',
      permission: self,
      summary: 'Turns MFA off with a current code; every other session of the caller ends',
      response: { status: 204, description: 'MFA is off' },
      tags,
      schema: { body: mfaCodeBody },
      handler: async (input) => {
        await admins.mfaDisable(caller(input), input.body.code, context(input));
        return noContent();
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/me',
      permission: self,
      summary: 'The signed-in staff member',
      response: { status: 200, description: 'The staff member', schema: staffSchema },
      tags,
      handler: async (input) => ok(await admins.me(caller(input))),
    }),
  ];
}
