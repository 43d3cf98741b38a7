import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'Webhook-Signature';
export const EVENT_ID_HEADER = 'Webhook-Id';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`: the timestamp is signed, so a replay can be refused by age. */
export function signatureHeader(secret: string, body: string, timestamp: number): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${v1}`;
}
