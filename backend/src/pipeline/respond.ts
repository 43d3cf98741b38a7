import { Response } from 'express';
import { RouteResult } from '../http/route';

/** Stage 17: what the handler returned, as HTTP. (A download is sent by send-download.ts, after the commit.) */
export function respond(res: Response, result: RouteResult): void {
  switch (result.kind) {
    case 'json':
      if (result.headers) res.set(result.headers);
      res.status(result.status).json(result.body);
      return;
    case 'text':
      res.status(result.status).type(result.contentType).send(result.text);
      return;
    case 'empty':
      if (result.headers) res.set(result.headers);
      res.status(204).end();
      return;
    case 'download':
      return;
  }
}
