import { TenantModel } from '../../infra/tenant-model';

export const VISIBILITIES = ['private', 'team', 'tenant'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/** A list query a user keeps for a CRM resource: filters (as query parameters), sort and columns. */
export class SavedView extends TenantModel {
  static override tableName = 'saved_views';
  static override jsonAttributes = ['filters', 'columns'];

  resource!: string;
  name!: string;
  filters!: Record<string, unknown>;
  sort!: string | null;
  columns!: string[];
  visibility!: Visibility;
  ownerId!: string;
  teamId!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
}

export const presentView = (view: SavedView) => ({
  id: view.id,
  resource: view.resource,
  name: view.name,
  filters: view.filters,
  sort: view.sort,
  columns: view.columns,
  visibility: view.visibility,
  ownerId: view.ownerId,
  teamId: view.teamId,
  createdAt: view.createdAt,
  updatedAt: view.updatedAt,
});
