import Joi from 'joi';
import { creationPageQuery, Page } from '../../lib/pagination';
import type { OrderDraft } from './parts.service';
import { PartLine, PartSearch, SUPPLIER_ORDER_STATUSES } from './supplier-adapter';

const partNumber = Joi.string().trim().pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/).messages({ 'string.pattern.base': '{{#label}} must be a part number (letters, digits, . _ -; at most 64)' });
const line = Joi.object({ partNumber: partNumber.required(), quantity: Joi.number().integer().min(1).max(10_000).required() });
const items = Joi.array().items(line).min(1).max(100).unique('partNumber');

export const partParams = Joi.object<{ partNumber: string }>({ partNumber: partNumber.required() });
export const orderParams = Joi.object<{ id: string }>({ id: Joi.string().uuid().required() });

export const searchQuery = Joi.object<PartSearch>({
  q: Joi.string().trim().min(1).max(100),
  make: Joi.string().trim().min(1).max(50),
  model: Joi.string().trim().min(1).max(50),
  year: Joi.number().integer().min(1900).max(2100),
}).or('q', 'make', 'model', 'year');

export const quoteBody = Joi.object<{ items: PartLine[] }>({ items: items.required() });
export const orderBody = Joi.object<OrderDraft>({
  items: items.required(),
  dealId: Joi.string().uuid(),
  ticketId: Joi.string().uuid(),
  accountId: Joi.string().uuid(),
});
export const listOrdersQuery = Joi.object<Page & { status?: string }>({ ...creationPageQuery, status: Joi.string().valid(...SUPPLIER_ORDER_STATUSES) });
export const inventoryQuery = Joi.object<Page>(creationPageQuery);

const money = { priceCents: Joi.number().integer().allow(null).required(), currency: Joi.string().allow(null).required() };
const partFields = { partNumber: Joi.string().required(), description: Joi.string().required(), brand: Joi.string().allow(null).required(), ...money };
export const partSchema = Joi.object(partFields);
export const partDetailsSchema = Joi.object({
  ...partFields,
  fitment: Joi.array().items(Joi.object({ make: Joi.string().required(), model: Joi.string().required(), yearFrom: Joi.number().integer().required(), yearTo: Joi.number().integer().required() })).required(),
});
export const stockSchema = Joi.object({
  partNumber: Joi.string().required(),
  available: Joi.number().integer().required(),
  branches: Joi.array().items(Joi.object({ branch: Joi.string().required(), quantity: Joi.number().integer().required() })).required(),
});
export const quoteSchema = Joi.object({
  quoteId: Joi.string().required(),
  lines: Joi.array().items(Joi.object({ partNumber: Joi.string().required(), quantity: Joi.number().integer().required(), unitPriceCents: Joi.number().integer().required(), available: Joi.number().integer().required() })).required(),
  totalCents: Joi.number().integer().required(),
  currency: Joi.string().required(),
  validUntil: Joi.date().required(),
});
const trackingSchema = Joi.object({
  carrier: Joi.string().required(),
  trackingNumber: Joi.string().required(),
  eta: Joi.date().allow(null).required(),
  events: Joi.array().items(Joi.object({ at: Joi.date().required(), description: Joi.string().required() })).required(),
});
export const orderSchema = Joi.object({
  id: Joi.string().uuid().required(),
  supplier: Joi.string().required(),
  status: Joi.string().valid(...SUPPLIER_ORDER_STATUSES).required(),
  supplierOrderId: Joi.string().allow(null).required(),
  clientReference: Joi.string().required().description('What the supplier knows the order by: derived from the Idempotency-Key when one was sent'),
  items: Joi.array().items(Joi.object({ partNumber: Joi.string().required(), quantity: Joi.number().integer().required() })).required(),
  totalCents: Joi.number().integer().allow(null).required(),
  currency: Joi.string().allow(null).required(),
  tracking: trackingSchema.allow(null).required(),
  dealId: Joi.string().uuid().allow(null).required(),
  ticketId: Joi.string().uuid().allow(null).required(),
  accountId: Joi.string().uuid().allow(null).required(),
  supplierAnswers: Joi.array()
    .items(Joi.object({ at: Joi.date().required(), operation: Joi.string().required(), answer: Joi.object().unknown(true).required() }))
    .required()
    .description('Every answer of the supplier that placed or changed the order, oldest first'),
  statusChangedAt: Joi.date().required(),
  createdAt: Joi.date().required(),
  updatedAt: Joi.date().required(),
});
export const invoiceSchema = Joi.object({
  invoiceNumber: Joi.string().required(),
  orderId: Joi.string().required(),
  issuedAt: Joi.date().required(),
  lines: Joi.array().items(Joi.object({ partNumber: Joi.string().required(), quantity: Joi.number().integer().required(), unitPriceCents: Joi.number().integer().required(), amountCents: Joi.number().integer().required() })).required(),
  subtotalCents: Joi.number().integer().required(),
  taxCents: Joi.number().integer().required(),
  totalCents: Joi.number().integer().required(),
  currency: Joi.string().required(),
});
export const inventoryItemSchema = Joi.object({
  supplier: Joi.string().required(),
  partNumber: Joi.string().required(),
  description: Joi.string().required(),
  brand: Joi.string().allow(null).required(),
  quantity: Joi.number().integer().required(),
  ...money,
  syncedAt: Joi.date().required().description('When the supplier last said so'),
});
