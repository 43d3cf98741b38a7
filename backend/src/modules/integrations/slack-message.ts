import type { OutboxEvent } from '../webhooks/webhook-outbox';

/** What a Slack notification integration can be told about (slack-notices.ts decides when). */
export const SLACK_EVENTS = ['deal.won', 'deal.lost', 'ticket.urgent'] as const;
export type SlackEvent = (typeof SLACK_EVENTS)[number];

/** Slack's mrkdwn treats these three as control characters; escaped, a record's text cannot forge a link or a mention. */
const escapeMrkdwn = (value: unknown): string => String(value ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** An incoming-webhook message (https://api.slack.com/messaging/webhooks) for a stored notice: `text`, and `channel` when configured. */
export function slackMessage(event: OutboxEvent, channel?: string): Record<string, unknown> {
  const object = event.data.object;
  const kind = event.type as SlackEvent;
  const amount = object.amount != null ? ` (${escapeMrkdwn(object.amount)} ${escapeMrkdwn(object.currency ?? '')})`.replace(' )', ')') : '';
  const text =
    kind === 'deal.won'
      ? `:tada: Deal won: *${escapeMrkdwn(object.name)}*${amount}`
      : kind === 'deal.lost'
        ? `:x: Deal lost: *${escapeMrkdwn(object.name)}*${amount}`
        : kind === 'ticket.urgent'
          ? `:rotating_light: Urgent ticket: *${escapeMrkdwn(object.subject)}*`
          : `CRM event ${event.type}`;
  return channel ? { text, channel } : { text };
}
