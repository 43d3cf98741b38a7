import { AppDeps } from '../../app-deps';
import { defineRoute, ok, principalOf, RouteDefinition } from '../../lib/http/route';
import { adminLoginBody } from './admin-auth.schema';
import { createPlatformAdminsService } from './platform-admins.service';

export function adminAuthRoutes(deps: AppDeps): RouteDefinition[] {
  const admins = createPlatformAdminsService(deps);
  const tags = ['Platform admin'];
  return [
    defineRoute({
      method: 'post',
      path: '/admin/auth/login',
      rateLimit: 'login',
      permission: 'public',
      summary: 'Platform admin sign-in; the token (audience crm-admin) is valid only on /admin routes',
      response: { status: 200, description: 'Signed in: an admin access token' },
      tags,
      schema: { body: adminLoginBody },
      handler: async (input) => ok(await admins.login(input.body as { email: string; password: string })),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/me',
      permission: 'platform:read',
      summary: 'The signed-in platform admin',
      tags,
      handler: async (input) => ok(await admins.me(principalOf(input, 'platform_admin'))),
    }),
  ];
}
