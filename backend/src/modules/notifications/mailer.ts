import nodemailer, { Transporter } from 'nodemailer';
import { AppConfig } from '../../config/app-config';
import { EmailMessage } from './email-templates';

const transports = new Map<string, Transporter>();

/** One transport per configuration: SMTP pools its connections; `json` only serializes the message. */
function transportFor(email: AppConfig['email']): Transporter {
  const key = `${email.transport}:${email.smtpUrl ?? ''}`;
  let transport = transports.get(key);
  if (!transport) {
    transport = email.transport === 'smtp' ? nodemailer.createTransport(email.smtpUrl!) : nodemailer.createTransport({ jsonTransport: true });
    transports.set(key, transport);
  }
  return transport;
}

export interface SendResult {
  messageId: string;
  /** Recipients the server refused outright: a bounce, not worth retrying. */
  rejected: string[];
}

export async function sendEmail(config: AppConfig, to: string, message: EmailMessage): Promise<SendResult> {
  const info = await transportFor(config.email).sendMail({
    from: config.email.from,
    to,
    subject: message.subject,
    text: message.text,
    html: message.html,
    attachments: message.attachments?.map(({ filename, contentType, content }) => ({ filename, contentType, content })),
  });
  return { messageId: String(info.messageId ?? ''), rejected: (info.rejected ?? []).map(String) };
}
