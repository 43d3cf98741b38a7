/** A file sent with an e-mail (a scheduled report's CSV). */
export interface EmailAttachment {
  filename: string;
  contentType: string;
  content: string;
}

/** A rendered e-mail. */
export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
  attachments?: EmailAttachment[];
}

const escapeHtml = (value: unknown): string =>
  String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Paragraphs of plain text, and the same as HTML with every value escaped: a record's text cannot inject markup. */
function message(subject: string, paragraphs: string[]): EmailMessage {
  return {
    subject,
    text: `${paragraphs.join('\n\n')}\n`,
    html: `<!doctype html><html><body>${paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('')}</body></html>`,
  };
}

export const EMAIL_TEMPLATES = {
  welcome: (p: { firstName?: string | null; organization: string }) =>
    message(`Welcome to ${p.organization}`, [`Hello ${p.firstName ?? ''},`.replace(' ,', ','), `Your organization ${p.organization} is ready. Sign in to get started.`]),

  invite: (p: { organization: string; token: string; expiresAt: string }) =>
    message(`You are invited to ${p.organization}`, [
      `You have been invited to join ${p.organization}.`,
      `Accept the invitation with this code (valid until ${p.expiresAt}): ${p.token}`,
    ]),

  password_reset: (p: { token: string; expiresAt: string }) =>
    message('Reset your password', [
      'Someone asked to reset the password of this account. If it was not you, ignore this message: nothing changes.',
      `To choose a new password, use this single-use code before ${p.expiresAt}: ${p.token}`,
    ]),

  trial_expiring: (p: { organization: string; endsAt: string }) =>
    message(`Your trial of ${p.organization} ends soon`, [`The trial of ${p.organization} ends on ${p.endsAt}.`, 'Choose a plan to keep your data and access.']),

  payment_failed: (p: { organization: string; reason?: string | null; amount?: string; billingUrl?: string }) =>
    message(`Payment failed for ${p.organization}`, [
      `We could not take the latest payment${p.amount ? ` of ${p.amount}` : ''} for ${p.organization}.`,
      ...(p.reason ? [`Reason given by the payment provider: ${p.reason}`] : []),
      p.billingUrl
        ? `Update the payment method to avoid an interruption: open ${p.billingUrl} and choose "Manage billing" (the customer portal).`
        : 'Update the payment method to avoid an interruption.',
    ]),

  trial_expired: (p: { organization: string; billingUrl: string }) =>
    message(`The trial of ${p.organization} has ended`, [
      `The trial of ${p.organization} has ended without a subscription, so the free plan's limits now apply.`,
      'Your data stays: what exceeds the free plan can be read but not changed until you subscribe.',
      `Choose a plan at ${p.billingUrl}.`,
    ]),

  invoice_paid: (p: { organization: string; amount: string; invoiceUrl: string | null }) =>
    message(`Payment received for ${p.organization}`, [
      `Thank you: we received ${p.amount} for ${p.organization}.`,
      p.invoiceUrl ? `The invoice: ${p.invoiceUrl}` : 'The invoice is in the customer portal.',
    ]),

  subscription_cancelled: (p: { organization: string; billingUrl: string }) =>
    message(`The subscription of ${p.organization} has ended`, [
      `The subscription of ${p.organization} is cancelled, so the free plan's limits now apply.`,
      'Your data stays: what exceeds the free plan can be read but not changed until you subscribe again.',
      `Subscribe again at ${p.billingUrl}.`,
    ]),

  rate_limit_warning: (p: { organization: string; caller: string; limit: number; resetAt: string }) =>
    message(`${p.organization} is close to its hourly request limit`, [
      `A${p.caller === 'api_key' ? 'n API key' : ' user'} of ${p.organization} has used 80% of its budget of ${p.limit} requests this hour.`,
      `Past the budget, its requests answer 429 until the window resets at ${p.resetAt}. A larger plan has a larger budget.`,
    ]),

  ticket_confirmation: (p: { subject: string; reference: string }) =>
    message(`We received your request: ${p.subject}`, [`Your support request "${p.subject}" is registered under reference ${p.reference}.`, 'We will come back to you soon.']),

  staff_invite: (p: { role: string; token: string; expiresAt: string }) =>
    message('You are invited to the platform console', [
      `You have been invited to the platform console as ${p.role}.`,
      `Set your password with this single-use code (valid until ${p.expiresAt}): ${p.token}`,
    ]),

  support_ticket_confirmation: (p: { number: string; subject: string; slaDueAt: string }) =>
    message(`${p.number}: we received your request`, [
      `Your request "${p.subject}" to the platform's support is registered as ${p.number}.`,
      `We will answer before ${p.slaDueAt}.`,
    ]),

  support_staff_reply: (p: { number: string; subject: string; body: string }) =>
    message(`${p.number}: a reply from support`, [`Support replied to "${p.subject}":`, p.body]),

  security_alert: (p: { organization: string; type: string; severity: string; summary: string; at: string }) =>
    message(`Security alert for ${p.organization}: ${p.type}`, [
      `${p.summary} (${p.type}, severity ${p.severity}, ${p.at}).`,
      'If this was expected, nothing needs to be done. If not, review the security events of your organization (GET /api/v1/security/events) and the audit log; docs/SECURITY.md says what to do for each kind of alert.',
      'Further alerts of the same kind about the same subject are not mailed for the next hour; they are still listed.',
    ]),

  security_staff_alert: (p: { tenantId: string; type: string; severity: string; summary: string; at: string; eventId: string }) =>
    message(`Security alert (${p.severity}): ${p.type}`, [
      `${p.summary} (${p.type}, severity ${p.severity}, tenant ${p.tenantId}, ${p.at}).`,
      `The event is ${p.eventId} in GET /api/v1/admin/security/events?tenantId=${p.tenantId}; docs/SECURITY.md says what to do for each kind of alert.`,
      'Further alerts of the same kind about the same subject are not sent for the dedup window; they are still listed.',
    ]),
  scheduled_report: (p: { organization: string; reportName: string; scheduledFor: string; rows: number; filename: string; csv: string }): EmailMessage => ({
    ...message(`${p.reportName} (${p.organization})`, [
      `The scheduled report "${p.reportName}" of ${p.organization}, run at ${p.scheduledFor}: ${p.rows} row${p.rows === 1 ? '' : 's'}, attached as ${p.filename}.`,
      'It counts what your own permissions let you read. To stop receiving it, ask whoever manages the reports of your organization.',
    ]),
    attachments: [{ filename: p.filename, contentType: 'text/csv; charset=utf-8', content: p.csv }],
  }),

  tenant_suspended: (p: { organization: string; reason?: string | null }) =>
    message(`${p.organization} is suspended`, [
      `The organization ${p.organization} has been suspended: sign-in and API access are stopped.`,
      ...(p.reason ? [`Reason: ${p.reason}`] : []),
      'Contact support to reactivate it.',
    ]),
} as const;

export type EmailTemplate = keyof typeof EMAIL_TEMPLATES;
export type TemplateParams<T extends EmailTemplate> = Parameters<(typeof EMAIL_TEMPLATES)[T]>[0];
