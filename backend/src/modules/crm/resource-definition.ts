import Joi from 'joi';
import { TenantModel } from '../../infra/tenant-model';
import { TenantPrincipal } from '../auth/principal';
import type { DomainEvent } from '../events/domain-events';
import type { ImportRow } from './import-rows';

/** A column a list can be ordered by; nullable text sorts as '' so that keyset paging stays total. */
export interface SortColumn {
  column: string;
  type: 'timestamp' | 'text' | 'number' | 'date';
  nullable?: boolean;
  /** SQL standing for the column (a custom field's value, never null), built from checked names only. */
  expression?: string;
}

/** A query parameter that narrows a list: equality, or one side of a range. */
export interface FilterSpec {
  column: string;
  op: '=' | '>=' | '<=';
  schema: Joi.Schema;
}

export type RecordModel = typeof TenantModel;
export type RecordData = Record<string, unknown>;

/** The singular name of every CRM resource: the audit trail's resource type and the webhook events' prefix. */
export const CRM_RESOURCES = ['lead', 'contact', 'account', 'deal', 'task', 'activity', 'ticket'] as const;
export type CrmResource = (typeof CRM_RESOURCES)[number];

/**
 * Everything that makes one CRM resource different from another; routes, list queries, writes,
 * import and export are generic over this declaration.
 */
export interface ResourceDefinition {
  /** URL segment and table: `leads`. */
  name: string;
  /** Audit resource type, webhook event prefix and messages: `lead`. */
  singular: CrmResource;
  model: RecordModel;
  /** Writable fields with their validation; anything else in a body is refused. */
  fields: Record<string, Joi.Schema>;
  required: string[];
  /** Fields holding ids of other records of the same tenant, and the table each must exist in. */
  references: Record<string, string>;
  filters: Record<string, FilterSpec>;
  /** Sort keys beyond createdAt and updatedAt. */
  sorts: Record<string, SortColumn[]>;
  /** The field naming the responsible user, for sales users' own-and-team scope. */
  ownerField?: string;
  /** The field holding the email of the person the record is about (audit encryption, privacy). */
  subjectField?: string;
  /** Unique fields that `upsertBy` may name on import. */
  upsertKeys?: string[];
  /** Resource rules applied to every create or update, after validation (defaults, derived fields). */
  prepare?(data: RecordData, context: WriteContext): Promise<RecordData> | RecordData;
  /** Derived fields of the answer (a ticket's TCK- number, its resolution time). */
  present?(record: RecordData): RecordData;
  /** Side effects in the same transaction, after the row is written (history rows, counters). */
  afterWrite?(record: RecordData, context: WriteContext): Promise<void>;
  /** Events of the resource's own that an update through the API records after its `record.updated` (a deal's stage change). */
  eventsOfUpdate?(existing: RecordData, updated: RecordData): Promise<DomainEvent[]> | DomainEvent[];
  /**
   * Bulk import's counterparts of prepare and afterWrite for new rows, for resources whose per-row hooks
   * cost a query per row (a ticket number, a related-record check, a stage-history row). The import
   * checks references and related records itself, a chunk at a time. Without them it calls the per-row hooks.
   */
  batch?: {
    prepare?(rows: RecordData[], context: WriteContext): Promise<RecordData[]> | RecordData[];
    afterWrite?(rows: RecordData[], context: WriteContext): Promise<void>;
    /** The resource's own checks of a chunk's valid rows (a deal's stage in its pipeline): each problem is its row's. */
    check?(rows: ImportRow[]): Promise<void>;
  };
}

export interface WriteContext {
  principal: TenantPrincipal;
  /** The row before this write; absent on create. */
  existing?: RecordData;
}
