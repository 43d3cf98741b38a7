import Joi from 'joi';
import { tenantScope } from '../../infra/tenant-scope';
import { id, PRIORITIES, text, externalId, externalIdFilter } from '../crm/field-schemas';
import { recordModel } from '../crm/record-model';
import { RecordData, ResourceDefinition, WriteContext } from '../crm/resource-definition';
import { customFieldsShape } from '../custom-fields/custom-field-values';

const STATUSES = ['open', 'in_progress', 'waiting_for_customer', 'resolved', 'closed'] as const;
const isDone = (status: unknown) => status === 'resolved' || status === 'closed';

/**
 * Ticket numbers come from a per-tenant counter bumped with UPDATE ... RETURNING: concurrent creates
 * queue on the counter row, so numbers never repeat (a rolled-back create may leave a gap). An import
 * takes a block of `count` numbers in the same one statement; the first of the block is answered.
 */
async function allocateTicketNumbers(count: number): Promise<number> {
  const { trx, tenantId } = tenantScope();
  const [row] = await trx('counters')
    .insert({ tenantId, name: 'tickets', value: count })
    .onConflict(['tenantId', 'name'])
    .merge({ value: trx.raw('counters.value + ?', [count]) })
    .returning<Array<{ value: number }>>('value');
  return Number(row!.value) - count + 1;
}

function stampResolution(data: RecordData, existing?: RecordData): RecordData {
  const status = data.status ?? existing?.status;
  if (data.status !== undefined && isDone(status) !== isDone(existing?.status)) data.resolvedAt = isDone(status) ? new Date() : null;
  return data;
}

async function prepare(data: RecordData, { existing }: WriteContext): Promise<RecordData> {
  if (!existing) data.number = await allocateTicketNumbers(1);
  return stampResolution(data, existing);
}

async function prepareBatch(rows: RecordData[]): Promise<RecordData[]> {
  const first = await allocateTicketNumbers(rows.length);
  return rows.map((row, index) => stampResolution({ ...row, number: first + index }));
}

export const formatTicketNumber = (number: number): string => `TCK-${String(number).padStart(6, '0')}`;

export const ticketsResource: ResourceDefinition = {
  name: 'tickets',
  singular: 'ticket',
  model: recordModel('tickets'),
  fields: {
    subject: Joi.string().trim().min(1).max(300),
    description: text(20_000),
    status: Joi.string().valid(...STATUSES),
    priority: Joi.string().valid(...PRIORITIES),
    assigneeId: id,
    contactId: id,
    accountId: id,
    externalId,
    customFields: customFieldsShape,
  },
  required: ['subject'],
  references: { assigneeId: 'users', contactId: 'contacts', accountId: 'accounts' },
  filters: {
    externalId: externalIdFilter,
    status: { column: 'status', op: '=', schema: Joi.string().valid(...STATUSES) },
    priority: { column: 'priority', op: '=', schema: Joi.string().valid(...PRIORITIES) },
    assigneeId: { column: 'assigneeId', op: '=', schema: Joi.string().uuid() },
    contactId: { column: 'contactId', op: '=', schema: Joi.string().uuid() },
    accountId: { column: 'accountId', op: '=', schema: Joi.string().uuid() },
  },
  sorts: { number: [{ column: 'number', type: 'number' }] },
  ownerField: 'assigneeId',
  prepare,
  batch: { prepare: prepareBatch },
  present: (ticket) => ({
    ...ticket,
    number: formatTicketNumber(ticket.number as number),
    resolutionSeconds:
      ticket.resolvedAt instanceof Date && ticket.createdAt instanceof Date
        ? Math.round((ticket.resolvedAt.getTime() - ticket.createdAt.getTime()) / 1000)
        : null,
  }),
};
