import { TenantModel } from '../../infra/tenant-model';

export const CUSTOM_FIELD_TYPES = ['text', 'number', 'currency', 'date', 'datetime', 'boolean', 'select', 'multiselect', 'email', 'url', 'phone'] as const;
export type CustomFieldType = (typeof CUSTOM_FIELD_TYPES)[number];

/** A field a tenant added to one CRM resource; its values live in the records' `custom_fields`. */
export class CustomField extends TenantModel {
  static override tableName = 'custom_fields';
  static override jsonAttributes = ['options'];

  resource!: string;
  key!: string;
  label!: string;
  type!: CustomFieldType;
  options!: string[];
  required!: boolean;
  isUnique!: boolean;
  searchable!: boolean;
  position!: number;
  createdAt!: Date;
  updatedAt!: Date;
}

/** A field as the API shows it (`unique`, not the column's `is_unique`). */
export const presentCustomField = (field: CustomField) => ({
  id: field.id,
  resource: field.resource,
  key: field.key,
  label: field.label,
  type: field.type,
  options: field.options,
  required: field.required,
  unique: field.isUnique,
  searchable: field.searchable,
  position: field.position,
  createdAt: field.createdAt,
  updatedAt: field.updatedAt,
});
