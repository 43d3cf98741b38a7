import { pipeline } from 'node:stream/promises';
import { Response } from 'express';
import { RouteResult } from '../lib/http/route';

/** Stage 17: what the handler returned, as HTTP. (A stream was sent by stage 15.) */
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
    case 'stream':
      return;
  }
}

/** A stream answer, sent to its last byte. */
export async function sendStream(res: Response, result: Extract<RouteResult, { kind: 'stream' }>): Promise<void> {
  res.status(result.status).type(result.contentType);
  // Quoted whatever the name, as clients expect; the names are the server's own (ASCII).
  if (result.filename) res.set('Content-Disposition', `attachment; filename="${result.filename.replace(/["\\]/g, '\\$&')}"`);
  try {
    await pipeline(result.stream, res);
  } catch (error) {
    // A client that hangs up mid-download is no server failure: what was sent stays sent (and audited).
    const clientLeft = (error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' && !res.writableFinished;
    if (!clientLeft) throw error;
  }
}
