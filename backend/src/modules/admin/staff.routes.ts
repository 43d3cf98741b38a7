import Joi from 'joi';
import { AppDeps } from '../../app-deps';
import { AnyRouteInput, created, defineRoute, noContent, ok, principalOf, RouteDefinition } from '../../http/route';
import { invitedStaffSchema, inviteStaffBody, listStaffQuery, staffSchema, staffSessionParams as staffIdParams, updateStaffBody } from './admin-auth.schema';
import { PlatformActor } from './platform-audit';
import { createStaffService } from './staff.service';

const actorOf = (input: AnyRouteInput): PlatformActor => ({
  principal: principalOf(input, 'platform_admin'),
  ip: input.ip,
  userAgent: input.userAgent,
  requestId: input.requestId,
});

/** Staff accounts, managed by holders of `admins:manage`; every change is in the platform audit log. */
export function staffRoutes(deps: AppDeps): RouteDefinition[] {
  const staff = createStaffService(deps);
  const tags = ['Platform admin'];
  const permission = 'platform:admins:manage' as const;
  return [
    defineRoute({
      method: 'get',
      path: '/admin/admins',
      permission,
      summary: 'Every staff member, oldest first; filters `role` and `status`',
      response: { status: 200, description: 'The staff', schema: Joi.array().items(staffSchema) },
      tags,
      schema: { query: listStaffQuery },
      handler: async (input) => ok(await staff.list(input.query)),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/admins',
      permission,
      summary: 'Invites a staff member by e-mail (single-use code, INVITE_TTL_SECONDS); never a role above the caller\'s',
      description: 'The answer carries `inviteToken` only when e-mail is the JSON log (EMAIL_TRANSPORT=json). 409 when the email is staff already.',
      response: { status: 201, description: 'The invited staff member', schema: invitedStaffSchema },
      tags,
      schema: { body: inviteStaffBody },
      handler: async (input) => created(await staff.invite(input.body, actorOf(input)), { 'Cache-Control': 'no-store' }),
    }),
    defineRoute({
      method: 'patch',
      path: '/admin/admins/:id',
      permission,
      summary: 'Changes a role or disables/re-enables an account; disabling ends its console and support sessions at once',
      description: '403 for a role above the caller\'s (target or new role); 409 when it would leave no active super admin.',
      response: { status: 200, description: 'The staff member as it now stands', schema: staffSchema },
      tags,
      schema: { params: staffIdParams, body: updateStaffBody },
      handler: async (input) => ok(await staff.update(input.params.id, input.body, actorOf(input))),
    }),
    defineRoute({
      method: 'delete',
      path: '/admin/admins/:id',
      permission,
      summary: 'Removes a staff account (not one\'s own, not the last active super admin); its sessions end at once',
      response: { status: 204, description: 'Removed' },
      tags,
      schema: { params: staffIdParams },
      handler: async (input) => {
        await staff.remove(input.params.id, actorOf(input));
        return noContent();
      },
    }),
  ];
}
