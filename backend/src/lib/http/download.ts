import { Response } from 'express';
import { InTenant, RouteResult } from './route';

export type Download = Extract<RouteResult, { kind: 'download' }>;

/** How a download ended: sent whole, the client went away, or the client stopped reading and was cut off. */
export type DownloadOutcome = 'sent' | 'client_left' | 'stalled';

/**
 * Bytes per socket write. A client that has not taken one piece within the stall timeout has stopped
 * reading; a client reading slowly but steadily (a few KB/s) never is cut off.
 */
const PIECE_BYTES = 64 * 1024;

/**
 * Sends a download with back-pressure: the body is pulled (and its next page read) only as fast as the
 * client takes the bytes. While the socket holds unsent bytes, a client that takes none of a piece for
 * `stallTimeoutMs` is disconnected, which ends the body. A failure of the body before the first byte is an
 * ordinary error answer; after it, the error handler cuts the connection, so a client never mistakes a
 * partial file for a whole one.
 */
export async function sendDownload(res: Response, download: Download, inTenant: InTenant, stallTimeoutMs: number): Promise<DownloadOutcome> {
  let clientLeft = false;
  const onClose = () => {
    clientLeft = !res.writableFinished;
  };
  res.once('close', onClose);
  res.status(download.status).type(download.contentType);
  // Quoted whatever the name, as clients expect; the names are the server's own (ASCII).
  if (download.filename) res.set('Content-Disposition', `attachment; filename="${download.filename.replace(/["\\]/g, '\\$&')}"`);
  const body = download.body(inTenant);
  try {
    for await (const chunk of body as AsyncIterable<string | Buffer>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      for (let start = 0; start < bytes.length; start += PIECE_BYTES) {
        if (clientLeft) return 'client_left';
        if (res.write(bytes.subarray(start, start + PIECE_BYTES))) continue;
        const waited = await drainOf(res, stallTimeoutMs);
        if (waited === 'closed') return 'client_left';
        if (waited === 'stalled') {
          res.destroy();
          return 'stalled';
        }
      }
    }
    if (clientLeft) return 'client_left';
    res.end();
    return 'sent';
  } finally {
    res.off('close', onClose);
    body.destroy();
  }
}

function drainOf(res: Response, timeoutMs: number): Promise<'drained' | 'closed' | 'stalled'> {
  return new Promise((resolve) => {
    const settle = (outcome: 'drained' | 'closed' | 'stalled') => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(outcome);
    };
    const onDrain = () => settle('drained');
    const onClose = () => settle('closed');
    const timer = setTimeout(() => settle('stalled'), timeoutMs);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
