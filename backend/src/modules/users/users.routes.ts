import { AppDeps } from '../../app-deps';
import { AnyRouteInput, created, defineRoute, noContent, ok, page, principalOf, RouteDefinition } from '../../http/route';
import { signedInSchema } from '../auth/auth.schema';
import { createAuthService } from '../auth/auth.service';
import { queueInviteEmail } from '../notifications/notifications.service';
import { presentUser } from './user.presenter';
import { acceptInviteBody, createUserBody, listUsersQuery, updateUserBody, userParams } from './users.schema';
import { addUser, getUser, listUsers, removeUser, updateUser } from './users.service';

export function usersRoutes(deps: AppDeps): RouteDefinition[] {
  const auth = createAuthService(deps);
  const tags = ['Users'];
  const caller = (input: AnyRouteInput) => principalOf(input, 'user', 'api_key');

  return [
    defineRoute({
      method: 'get',
      path: '/users',
      permission: 'users:manage',
      summary: 'The members of the organization, oldest first, keyset-paged',
      tags,
      schema: { query: listUsersQuery },
      handler: async (input) => {
        const { rows, pagination } = await listUsers(input.query);
        return page(rows.map(presentUser), pagination);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/users/:id',
      permission: 'users:manage',
      summary: 'One member of the organization',
      tags,
      schema: { params: userParams },
      handler: async (input) => ok(presentUser(await getUser(input.params.id))),
    }),
    defineRoute({
      method: 'post',
      path: '/users',
      auditResource: 'user',
      permission: 'users:manage',
      summary: 'Add a member: active with a password, else invited with a one-time inviteToken in this answer only',
      tags,
      schema: { body: createUserBody },
      handler: async (input) => {
        const { user, invitation } = await addUser(caller(input), input.body, deps.config.auth);
        if (invitation) await queueInviteEmail(deps.config, user, invitation);
        const shown = invitation ? { inviteToken: invitation.token, inviteExpiresAt: invitation.expiresAt } : {};
        return created({ ...presentUser(user), ...shown });
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/users/:id',
      auditResource: 'user',
      permission: 'users:manage',
      summary: "Change a member's role, status or profile; disabling revokes their sessions at once",
      tags,
      schema: { params: userParams, body: updateUserBody },
      handler: async (input) => ok(presentUser(await updateUser(caller(input), input.params.id, input.body))),
    }),
    defineRoute({
      method: 'delete',
      path: '/users/:id',
      auditResource: 'user',
      permission: 'users:manage',
      summary: 'Remove a member (soft delete); their sessions end at once',
      tags,
      schema: { params: userParams },
      handler: async (input) => {
        await removeUser(caller(input), input.params.id);
        return noContent();
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/accept-invite',
      rateLimit: 'auth',
      permission: 'public',
      summary: 'Accept an invitation: set a password and sign in (401 when the token is invalid, expired or used)',
      response: { status: 200, description: "Signed in: login's answer", schema: signedInSchema },
      tags: ['Auth'],
      schema: { body: acceptInviteBody },
      handler: async (input) => {
        const result = await auth.acceptInvite(input.body, { ip: input.ip, userAgent: input.userAgent });
        return ok(result);
      },
    }),
  ];
}
