import { AnyRouteInput, created, defineRoute, noContent, ok, page, principalOf, RouteDefinition } from '../../http/route';
import { presentRole } from './role.presenter';
import { createRoleBody, listRolesQuery, roleParams, updateRoleBody } from './roles.schema';
import { createRole, deleteRole, listRoles, updateRole } from './roles.service';

export function rolesRoutes(): RouteDefinition[] {
  const tags = ['Roles'];
  const caller = (input: AnyRouteInput) => principalOf(input, 'user', 'api_key');

  return [
    defineRoute({
      method: 'get',
      path: '/roles',
      permission: 'roles:manage',
      summary: 'System and custom roles with their permissions, oldest first, keyset-paged',
      tags,
      schema: { query: listRolesQuery },
      handler: async (input) => {
        const { rows, pagination } = await listRoles(input.query);
        return page(rows.map(presentRole), pagination);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/roles',
      auditResource: 'role',
      feature: 'custom_roles',
      permission: 'roles:manage',
      summary: 'Create a custom role; nobody can grant a permission they do not hold',
      tags,
      schema: { body: createRoleBody },
      handler: async (input) => created(presentRole(await createRole(caller(input), input.body))),
    }),
    defineRoute({
      method: 'patch',
      path: '/roles/:id',
      auditResource: 'role',
      feature: 'custom_roles',
      permission: 'roles:manage',
      summary: 'Change a custom role; its holders get the new permissions on their next request',
      tags,
      schema: { params: roleParams, body: updateRoleBody },
      handler: async (input) => ok(presentRole(await updateRole(caller(input), input.params.id, input.body))),
    }),
    defineRoute({
      method: 'delete',
      path: '/roles/:id',
      auditResource: 'role',
      permission: 'roles:manage',
      summary: 'Delete a custom role (soft delete); one still assigned to a user or API key is 409',
      tags,
      schema: { params: roleParams },
      handler: async (input) => {
        await deleteRole(caller(input), input.params.id);
        return noContent();
      },
    }),
  ];
}
