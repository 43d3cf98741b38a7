import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'Webhook-Signature';
export const EVENT_ID_HEADER = 'Webhook-Id';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`: the timestamp is signed, so a replay can be refused by age. */
export function signatureHeader(secret: string, body: string, timestamp: number, previousSecret?: string): string {
  const v1 = (key: string) => createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex');
  // During a rotation's overlap a second v1 under the old secret lets receivers still holding it verify.
  return `t=${timestamp},v1=${v1(secret)}${previousSecret === undefined ? '' : `,v1=${v1(previousSecret)}`}`;
}
