import { RouteResult } from '../http/route';
import { RequestFrame } from './request-frame';

/** Stage 15: the route's handler with its validated input and its caller. */
export function runHandler(frame: RequestFrame): Promise<RouteResult> {
  return frame.route.handler({ ...frame.input!, principal: frame.principal });
}
