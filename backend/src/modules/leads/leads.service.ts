import { AppError } from '../../lib/errors';
import { actorId, TenantPrincipal } from '../auth/principal';
import { accountsResource } from '../accounts/accounts.resource';
import { contactsResource } from '../contacts/contacts.resource';
import { assertMayChange } from '../crm/record-access';
import { createRecordsService } from '../crm/records.service';
import { presentRecord } from '../crm/record-model';
import { dealsResource } from '../deals/deals.resource';
import { recordEvent } from '../events/event-context';
import { leadsResource } from './leads.resource';

export interface ConvertLeadInput {
  accountId?: string;
  account?: Record<string, unknown>;
  contactId?: string;
  deal?: Record<string, unknown>;
}

const leads = createRecordsService(leadsResource);
const accounts = createRecordsService(accountsResource);
const contacts = createRecordsService(contactsResource);
const deals = createRecordsService(dealsResource);

/**
 * Lead -> account (new or existing) + contact (new or existing) + optional deal, and the lead marked
 * converted: one transaction (the request's), so a failure anywhere leaves nothing half-converted.
 */
export async function convertLead(principal: TenantPrincipal, leadId: string, input: ConvertLeadInput) {
  assertMayConvert(principal, input);
  const lead = await leads.load(leadId, { lock: true });
  // Converting changes the lead: a sales user may convert only their own or their team's, even onto
  // existing records (where no new record's owner check would catch it).
  await assertMayChange(leadsResource, principal, lead);
  // convertedAt stays when a PATCH moves the status back, so a reopened lead cannot spawn a second account.
  if (lead.status === 'converted' || lead.convertedAt) throw new AppError('CONFLICT', 'This lead is already converted');
  const person = [lead.firstName, lead.lastName].filter(Boolean).join(' ');

  const account = input.accountId
    ? presentRecord(await accounts.load(input.accountId).catch(() => missing('accountId', 'account')))
    : await accounts.create(principal, { name: lead.company || person || 'Unnamed account', ownerId: lead.ownerId ?? null, ...input.account });
  const contact = input.contactId
    ? presentRecord(await contacts.load(input.contactId).catch(() => missing('contactId', 'contact')))
    : await contacts.create(principal, {
        firstName: lead.firstName ?? null,
        lastName: lead.lastName ?? null,
        email: lead.email ?? null,
        phone: lead.phone ?? null,
        title: lead.title ?? null,
        accountId: account.id,
        ownerId: lead.ownerId ?? null,
      });
  const deal = input.deal
    ? await deals.create(principal, { accountId: account.id, contactId: contact.id, ownerId: lead.ownerId ?? null, ...input.deal })
    : null;

  const converted = await leadsResource.model.query().patchAndFetchById(leadId, {
    status: 'converted',
    convertedAt: new Date(),
    convertedAccountId: account.id,
    convertedContactId: contact.id,
    convertedDealId: deal?.id ?? null,
    updatedBy: actorId(principal),
  } as never);
  recordEvent({
    type: 'lead.converted',
    id: leadId,
    fromStatus: lead.status,
    accountId: account.id as string,
    contactId: contact.id as string,
    dealId: (deal?.id as string | undefined) ?? null,
    subject: (lead.email as string | null) ?? null,
  });
  return { lead: presentRecord(converted), account, contact, deal };
}

/**
 * Converting makes or links an account and a contact (and a deal): the caller needs the write permission
 * of each, and the read permission of an existing one it links (which the answer shows), not only
 * `leads:write`. One 403 names every permission missing.
 */
function assertMayConvert(principal: TenantPrincipal, input: ConvertLeadInput): void {
  const needed = [
    'accounts:write',
    ...(input.accountId ? ['accounts:read'] : []),
    'contacts:write',
    ...(input.contactId ? ['contacts:read'] : []),
    ...(input.deal ? ['deals:write'] : []),
  ];
  const lacking = needed.filter((permission) => !principal.permissions.has(permission));
  if (lacking.length) throw new AppError('FORBIDDEN', `Converting this lead needs the ${lacking.map((p) => `"${p}"`).join(', ')} permission(s)`);
}

function missing(field: string, what: string): never {
  throw new AppError('VALIDATION_ERROR', `The ${what} does not exist`, [{ field, message: `does not name an existing ${what}` }]);
}
