import { Request, Response } from 'express';
import { RouteDefinition, RouteInput } from '../http/route';
import { Credential, Principal } from '../modules/auth/principal';

/** What the stages of one request share, as Ghost's api-framework passes its frame from stage to stage. */
export interface RequestFrame {
  readonly route: RouteDefinition;
  readonly req: Request;
  readonly res: Response;
  /** Read by authentication (stage 7) on routes that are not public. */
  readonly credential?: Credential;
  /** The caller, once authorization, the gates and the plan budget (stages 8-10) have let it through. */
  principal?: Principal;
  /** The validated input (stage 12). */
  input?: RouteInput;
}

export const openFrame = (route: RouteDefinition, req: Request, res: Response): RequestFrame => ({
  route,
  req,
  res,
  credential: res.locals.credential as Credential | undefined,
});

const WRITE_METHODS = new Set(['post', 'put', 'patch', 'delete']);

export const isWrite = (route: Pick<RouteDefinition, 'method'>): boolean => WRITE_METHODS.has(route.method);
