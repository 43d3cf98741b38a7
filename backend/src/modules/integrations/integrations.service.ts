import { randomUUID } from 'node:crypto';
import { AppConfig } from '../../config/app-config';
import { tenantScope } from '../../infra/tenant-scope';
import { decryptCredential, encryptCredential, rowContext } from '../credentials/credential-crypto';
import { AppError, notFound } from '../../lib/errors';
import { Page, pageByCreation } from '../../lib/pagination';
import { recordEvent } from '../events/event-context';
import { assertAcceptableUrl } from '../webhooks/destination-guard';
import { Integration } from './integration.model';
import { INTEGRATION_SPECS, IntegrationType, maskSecret } from './integration-types';

export interface IntegrationDraft {
  type: IntegrationType;
  name: string;
  active: boolean;
  config: Record<string, unknown>;
}

export type IntegrationChanges = Partial<Pick<IntegrationDraft, 'name' | 'active' | 'config'>>;

export function createIntegrationsService(config: AppConfig) {
  const guard = { allowPrivateNetworks: config.webhooks.allowPrivateNetworks, requireHttps: config.env === 'production' };
  const context = (id: string) => rowContext('integrations', tenantScope().tenantId, id);

  const secretsOf = (integration: Integration): Record<string, string> =>
    integration.secretsEncrypted ? (JSON.parse(decryptCredential(config.credentialKeys, integration.secretsEncrypted, context(integration.id))) as Record<string, string>) : {};

  /** The configuration with every secret masked: the only form it leaves the service in (answers, audit). */
  const present = (integration: Integration) => {
    const masked = Object.fromEntries(Object.entries(secretsOf(integration)).map(([field, value]) => [field, maskSecret(value)]));
    return {
      id: integration.id,
      type: integration.type,
      name: integration.name,
      active: integration.active,
      config: { ...integration.config, ...masked },
      disabledReason: integration.disabledReason,
      createdAt: integration.createdAt,
      updatedAt: integration.updatedAt,
    };
  };

  /** Validates a whole configuration for its type, checks its destinations, and splits off the secrets. */
  async function split(type: IntegrationType, whole: Record<string, unknown>) {
    const spec = INTEGRATION_SPECS[type];
    const { value, error } = spec.config.validate(whole, { abortEarly: false, convert: true });
    if (error) {
      throw new AppError(
        'VALIDATION_ERROR',
        'The configuration is invalid',
        error.details.map((detail) => ({ field: `config.${detail.path.join('.')}`, message: detail.message })),
      );
    }
    for (const field of spec.urls) if (value[field] !== undefined) await assertAcceptableUrl(value[field] as string, `config.${field}`, guard);
    const secrets = Object.fromEntries(spec.secrets.filter((field) => value[field] !== undefined).map((field) => [field, value[field] as string]));
    const plain = Object.fromEntries(Object.entries(value).filter(([field]) => !spec.secrets.includes(field)));
    return { plain, secrets };
  }

  const seal = (id: string, secrets: Record<string, string>) =>
    Object.keys(secrets).length ? encryptCredential(config.credentialKeys, JSON.stringify(secrets), context(id)) : null;

  async function load(id: string): Promise<Integration> {
    const integration = await Integration.query().findById(id);
    if (!integration) throw notFound('Integration');
    return integration;
  }

  return {
    list: async (page: Page) => {
      const { rows, pagination } = await pageByCreation(Integration.query(), page);
      return { rows: rows.map(present), pagination };
    },

    get: async (id: string) => present(await load(id)),

    async create(draft: IntegrationDraft, actor: string) {
      const { plain, secrets } = await split(draft.type, draft.config);
      const id = randomUUID();
      const integration = await Integration.query()
        .insert({ id, type: draft.type, name: draft.name, active: draft.active, config: plain, secretsEncrypted: seal(id, secrets), createdBy: actor, updatedBy: actor } as never)
        .returning('*');
      const shown = present(integration);
      recordEvent({ type: 'integration.created', id, integrationType: shown.type, name: shown.name, active: shown.active, config: shown.config });
      return shown;
    },

    /** `config` is merged into the stored one: a secret left out keeps its value, so a client never needs to know it. */
    async update(id: string, changes: IntegrationChanges, actor: string) {
      const existing = await load(id);
      const before = present(existing);
      const patch: Record<string, unknown> = { updatedBy: actor };
      if (changes.name !== undefined) patch.name = changes.name;
      if (changes.active !== undefined) patch.active = changes.active;
      if (changes.active) patch.disabledReason = null;
      if (changes.config) {
        const { plain, secrets } = await split(existing.type, { ...existing.config, ...secretsOf(existing), ...changes.config });
        patch.config = plain;
        patch.secretsEncrypted = seal(id, secrets);
      }
      const shown = present(await Integration.query().patchAndFetchById(id, patch as never));
      recordEvent({
        type: 'integration.updated',
        id,
        before: { name: before.name, active: before.active, config: before.config },
        after: { name: shown.name, active: shown.active, config: shown.config },
      });
      return shown;
    },

    /** The whole configuration (secrets included) of the organization's active integration of a type, for its connector only. */
    async activeConfigOf(type: IntegrationType): Promise<Record<string, unknown> | null> {
      const integration = await Integration.query().where({ type, active: true }).orderBy([{ column: 'createdAt' }, { column: 'id' }]).first();
      return integration ? { ...integration.config, ...secretsOf(integration) } : null;
    },

    async remove(id: string) {
      const existing = await load(id);
      await Integration.query().deleteById(id);
      recordEvent({ type: 'integration.deleted', id, integrationType: existing.type, name: existing.name });
    },
  };
}
