import { RouteResult } from '../lib/http/route';
import { RequestFrame } from './request-frame';
import { sendStream } from './respond';

/**
 * Stage 15: the route's handler with its validated input and its caller. A stream reads from the unit
 * of work's transaction, which ends when this returns: it is sent here, to its last byte, so the
 * transaction commits (and publishes its events) only after that.
 */
export async function runHandler(frame: RequestFrame): Promise<RouteResult> {
  const answer = await frame.route.handler({ ...frame.input!, principal: frame.principal });
  if (answer.kind === 'stream') await sendStream(frame.res, answer);
  return answer;
}
