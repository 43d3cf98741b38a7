import { tenantScope } from '../../infra/tenant-scope';
import { AppError, ErrorDetail, notFound } from '../../lib/errors';
import { TenantPrincipal, UserPrincipal } from '../auth/principal';
import { CRM_RESOURCE_DEFINITIONS } from '../crm/crm-resources';
import { RELATED_TYPES } from '../crm/field-schemas';
import { DEFAULT_SORT, filtersOf, listFiltersSchema } from '../crm/record-list';
import { ResourceDefinition } from '../crm/resource-definition';
import { CustomQuery, resolveCustomQuery } from '../custom-fields/custom-field-query';
import { fieldsOf } from '../custom-fields/custom-fields.service';
import { recordEvent } from '../events/event-context';
import { presentView, SavedView, Visibility } from './saved-view.model';

export interface ViewDraft {
  resource: string;
  name: string;
  filters: Record<string, unknown>;
  sort?: string | null;
  columns: string[];
  visibility: Visibility;
}

export type ViewPatch = Partial<Omit<ViewDraft, 'resource'>>;

/** Columns every record has besides its writable fields. */
const SERVER_COLUMNS = ['id', 'createdAt', 'updatedAt', 'createdBy', 'updatedBy'];

const definition = (resource: string): ResourceDefinition => CRM_RESOURCE_DEFINITIONS.get(resource)!;

/** The views a caller sees: their own, their team's and the tenant's (an API key: the tenant's). */
function visibleViews(principal: TenantPrincipal) {
  return SavedView.query().where((visible) => {
    visible.where('visibility', 'tenant');
    if (principal.kind !== 'user') return;
    visible.orWhere('ownerId', principal.userId);
    if (principal.teamId) visible.orWhere((team) => team.where({ visibility: 'team', teamId: principal.teamId }));
  });
}

/** Views of resources the caller may not read are as absent as another tenant's. */
const mayRead = (principal: TenantPrincipal, resource: string) => principal.permissions.has(`${resource}:read`);

export async function listViews(principal: TenantPrincipal, resource?: string) {
  const query = visibleViews(principal).orderBy(['resource', 'name', 'id']);
  if (resource) query.where({ resource });
  return (await query).filter((view) => mayRead(principal, view.resource)).map(presentView);
}

async function loadVisible(principal: TenantPrincipal, id: string): Promise<SavedView> {
  const view = await visibleViews(principal).findById(id);
  if (!view || !mayRead(principal, view.resource)) throw notFound('View');
  return view;
}

export const getView = async (principal: TenantPrincipal, id: string) => presentView(await loadVisible(principal, id));

/** `{customFields: {budget: {gte: 1}}}` as the list's parameters: `customFields.budget[gte]=1`. */
function asParameters(filters: Record<string, unknown>): Record<string, unknown> {
  const { customFields, ...plain } = filters;
  const parameters: Record<string, unknown> = { ...plain };
  for (const [key, condition] of Object.entries((customFields ?? {}) as Record<string, unknown>)) {
    if (typeof condition !== 'object' || condition === null) {
      parameters[`customFields.${key}`] = String(condition);
      continue;
    }
    for (const [operator, value] of Object.entries(condition)) parameters[`customFields.${key}[${operator}]`] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return parameters;
}

/** A view's filters and sort as the list's own parameters would be taken: a 400 names what does not fit. */
async function listParameters(def: ResourceDefinition, filters: Record<string, unknown>, sort: string | null | undefined, field = 'filters') {
  const parameters = { ...asParameters(filters), ...(sort ? { sort } : {}) };
  const { value, error } = listFiltersSchema(def).validate(parameters, { abortEarly: false, convert: true });
  if (error) {
    throw new AppError('VALIDATION_ERROR', 'The view does not fit the list', error.details.map((detail) => ({ field: detail.path[0] === 'sort' ? 'sort' : `${field}.${detail.path.join('.')}`, message: detail.message })));
  }
  await resolveCustomQuery(def, { sort: DEFAULT_SORT, ...value });
  return value as Record<string, unknown>;
}

/** Tables an id filter can name a record of: its reference, a pipeline, or any record a relatedId may be. */
function tablesOf(def: ResourceDefinition, filter: string, filters: Record<string, unknown>): string[] {
  const column = filtersOf(def)[filter]?.column;
  if (!column) return [];
  if (def.references[column]) return [def.references[column]];
  if (column === 'pipelineId') return ['pipelines'];
  if (column === 'relatedId') {
    const named = RELATED_TYPES[filters.relatedType as keyof typeof RELATED_TYPES];
    return named ? [named] : Object.values(RELATED_TYPES);
  }
  return [];
}

/** A view keeps no other organization's ids: an id a filter names must be a record of this one (400 otherwise). */
async function assertIdsKnown(def: ResourceDefinition, filters: Record<string, unknown>): Promise<void> {
  const { trx, tenantId } = tenantScope();
  const problems: ErrorDetail[] = [];
  for (const [filter, value] of Object.entries(filters)) {
    const tables = typeof value === 'string' ? tablesOf(def, filter, filters) : [];
    if (!tables.length) continue;
    let found = false;
    for (const table of tables) found ||= Boolean(await trx(table).where({ tenantId, id: value }).first('id'));
    if (!found) problems.push({ field: `filters.${filter}`, message: 'does not name a record of this organization' });
  }
  if (problems.length) throw new AppError('VALIDATION_ERROR', 'A filter names an unknown record', problems);
}

async function assertColumns(def: ResourceDefinition, columns: string[]): Promise<void> {
  const custom = (await fieldsOf(def.name)).map((field) => `customFields.${field.key}`);
  const known = new Set([...SERVER_COLUMNS, ...Object.keys(def.fields), ...custom]);
  const problems: ErrorDetail[] = columns.filter((column) => !known.has(column)).map((column) => ({ field: 'columns', message: `"${column}" is not a column of ${def.name}` }));
  if (problems.length) throw new AppError('VALIDATION_ERROR', 'A column is unknown', problems);
}

function assertVisibility(principal: UserPrincipal, visibility: Visibility | undefined): void {
  if (visibility === 'team' && !principal.teamId) {
    throw new AppError('VALIDATION_ERROR', 'You are in no team', [{ field: 'visibility', message: 'team needs the owner to be in a team' }]);
  }
}

export async function createView(principal: UserPrincipal, draft: ViewDraft) {
  if (!mayRead(principal, draft.resource)) throw new AppError('FORBIDDEN', `Saving a view of ${draft.resource} needs the ${draft.resource}:read permission`);
  const def = definition(draft.resource);
  assertVisibility(principal, draft.visibility);
  await assertIdsKnown(def, await listParameters(def, draft.filters, draft.sort));
  await assertColumns(def, draft.columns);
  const view = await SavedView.query()
    .insert({ ...draft, sort: draft.sort ?? null, ownerId: principal.userId, teamId: principal.teamId, createdBy: principal.userId, updatedBy: principal.userId } as never)
    .returning('*');
  const shown = presentView(view);
  recordEvent({ type: 'view.created', id: view.id, view: shown });
  return shown;
}

/** Its owner changes or deletes a view, or a tenant admin; others who see it only read it. */
async function loadOwned(principal: UserPrincipal, id: string): Promise<SavedView> {
  const view = await loadVisible(principal, id);
  if (view.ownerId !== principal.userId && !principal.permissions.has('organization:manage')) {
    throw new AppError('FORBIDDEN', 'Only its owner or a tenant admin may change this view');
  }
  return view;
}

export async function updateView(principal: UserPrincipal, id: string, patch: ViewPatch) {
  const view = await loadOwned(principal, id);
  const def = definition(view.resource);
  // The team of a view is its owner's; an admin sharing another's view with "their" team would pick the wrong one.
  if (patch.visibility === 'team' && view.ownerId === principal.userId) assertVisibility(principal, 'team');
  if (patch.visibility === 'team' && !view.teamId && view.ownerId !== principal.userId) {
    throw new AppError('VALIDATION_ERROR', 'The owner is in no team', [{ field: 'visibility', message: 'team needs the owner to be in a team' }]);
  }
  if (patch.filters !== undefined || patch.sort !== undefined) {
    await assertIdsKnown(def, await listParameters(def, patch.filters ?? view.filters, patch.sort === undefined ? view.sort : patch.sort));
  }
  if (patch.columns) await assertColumns(def, patch.columns);
  const teamId = patch.visibility === 'team' && view.ownerId === principal.userId ? principal.teamId : view.teamId;
  const updated = await SavedView.query().patchAndFetchById(id, { ...patch, teamId, updatedBy: principal.userId } as never);
  const before = presentView(view);
  const after = presentView(updated);
  const changed = (Object.keys(patch) as Array<keyof ViewPatch>).filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
  if (changed.length) {
    recordEvent({ type: 'view.updated', id, before: Object.fromEntries(changed.map((key) => [key, before[key]])), after: Object.fromEntries(changed.map((key) => [key, after[key]])) });
  }
  return after;
}

export async function deleteView(principal: UserPrincipal, id: string): Promise<void> {
  const view = await loadOwned(principal, id);
  await SavedView.query().deleteById(id);
  recordEvent({ type: 'view.deleted', id, view: presentView(view) });
}

/**
 * The query a list runs: the view's filters and sort (when `view` names one the caller sees, of this
 * resource), the parameters given laid over them, the default sort last; then its custom field parameters
 * resolved against the tenant's fields.
 */
export async function listQueryWithView<Q extends { sort?: string; view?: string; custom?: CustomQuery; [key: string]: unknown }>(
  def: ResourceDefinition,
  principal: TenantPrincipal,
  query: Q,
): Promise<Q & { sort: string }> {
  const { view: viewId, ...given } = query;
  let saved: Record<string, unknown> = {};
  if (viewId) {
    const view = await visibleViews(principal).findById(viewId);
    if (!view || !mayRead(principal, view.resource)) {
      throw new AppError('VALIDATION_ERROR', 'The view does not exist', [{ field: 'query.view', message: 'does not name a view you can see' }]);
    }
    if (view.resource !== def.name) throw new AppError('VALIDATION_ERROR', 'The view is of another resource', [{ field: 'query.view', message: `is a view of ${view.resource}` }]);
    saved = await listParameters(def, view.filters, view.sort, 'view.filters');
  }
  const explicit = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined));
  return resolveCustomQuery(def, { sort: DEFAULT_SORT, ...saved, ...explicit } as Q & { sort: string });
}
