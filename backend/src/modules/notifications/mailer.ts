import nodemailer, { Transporter } from 'nodemailer';
import { AppConfig } from '../../config/app-config';
import { outboundCallsOf } from '../../infra/outbound/outbound-call';
import { EmailMessage } from './email-templates';

/**
 * nodemailer's own limits, inside the policy's deadline (SEND_DEADLINE_MS), so that a send it gave up on
 * has also stopped on the wire and cannot arrive after the job has been told it failed.
 */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };
const SEND_DEADLINE_MS = 45_000;

const transports = new Map<string, Transporter>();

/** One transport per configuration: SMTP pools its connections; `json` only serializes the message. */
function transportFor(email: AppConfig['email']): Transporter {
  const key = `${email.transport}:${email.smtpUrl ?? ''}`;
  let transport = transports.get(key);
  if (!transport) {
    transport = email.transport === 'smtp' ? nodemailer.createTransport(email.smtpUrl!, SMTP_TIMEOUTS) : nodemailer.createTransport({ jsonTransport: true });
    transports.set(key, transport);
  }
  return transport;
}

/** The breaker's key: the mail server's host and port, never the URL (it carries the SMTP credentials). */
function smtpDestination(smtpUrl: string): string {
  const url = new URL(smtpUrl);
  return `smtp:${url.hostname}:${url.port || (url.protocol === 'smtps:' ? '465' : '587')}`;
}

/**
 * The server refusing this message or recipient (an envelope or message error, or a 5xx answer) is an answer
 * about the mail, not a sign the server is down: only connection failures, timeouts and 4xx count towards
 * opening its breaker.
 */
function isOutage(error: unknown): boolean {
  const { code, responseCode } = error as { code?: string; responseCode?: number };
  if (code === 'EENVELOPE' || code === 'EMESSAGE') return false;
  return responseCode === undefined || responseCode < 500;
}

export interface SendResult {
  messageId: string;
  /** Recipients the server refused outright: a bounce, not worth retrying. */
  rejected: string[];
}

/**
 * Sends through the outbound policy when the transport is SMTP: a breaker per mail server and no immediate
 * retry (a mail sent twice is worse than one sent late; the job engine retries with its own backoff).
 */
export async function sendEmail(config: AppConfig, to: string, message: EmailMessage): Promise<SendResult> {
  const send = async () => {
    const info = await transportFor(config.email).sendMail({
      from: config.email.from,
      to,
      subject: message.subject,
      text: message.text,
      html: message.html,
      attachments: message.attachments?.map(({ filename, contentType, content }) => ({ filename, contentType, content })),
    });
    return { messageId: String(info.messageId ?? ''), rejected: (info.rejected ?? []).map(String) };
  };
  if (config.email.transport !== 'smtp') return send();
  return outboundCallsOf(config).call({ destination: smtpDestination(config.email.smtpUrl!), timeoutMs: SEND_DEADLINE_MS, idempotent: false, isOutage }, send);
}
