import Joi from 'joi';
import { defineRoute, ok, principalOf, RouteDefinition } from '../../http/route';
import { getOrganizationSettings, OrganizationSettings, updateOrganizationSettings } from './organization-settings.service';

const settingsSchema = Joi.object({
  allowImpersonation: Joi.boolean()
    .required()
    .description('Whether platform support may open audited impersonation sessions as users of this organization (default true)'),
  requireMfa: Joi.boolean()
    .required()
    .description(
      'Every user must sign in with TOTP (default false). A user without it reaches only their own account (MFA setup, sign-out) ' +
        'and gets 403 MFA_ENROLLMENT_REQUIRED elsewhere; API keys are not affected. Turning it on takes a user who has MFA on.',
    ),
});

const updateSettingsBody = Joi.object<Partial<OrganizationSettings>>({ allowImpersonation: Joi.boolean(), requireMfa: Joi.boolean() }).min(1).required();

/** GET/PATCH /organization/settings: tenant-wide switches a tenant_admin (organization:manage) controls. */
export function organizationSettingsRoutes(): RouteDefinition[] {
  const tags = ['Organization'];
  return [
    defineRoute({
      method: 'get',
      path: '/organization/settings',
      permission: 'organization:manage',
      summary: "The organization's settings",
      response: { status: 200, description: 'The settings', schema: settingsSchema },
      tags,
      handler: async () => ok(await getOrganizationSettings()),
    }),
    defineRoute({
      method: 'patch',
      path: '/organization/settings',
      auditResource: 'organization',
      permission: 'organization:manage',
      summary: "Changes the organization's settings; each change is in the audit log",
      response: { status: 200, description: 'The settings as they now stand', schema: settingsSchema },
      tags,
      schema: { body: updateSettingsBody },
      handler: async (input) => ok(await updateOrganizationSettings(principalOf(input, 'user', 'api_key'), input.body)),
    }),
  ];
}
