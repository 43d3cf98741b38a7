import { Response } from 'express';
import { InTenant, RouteResult } from './route';

export type Download = Extract<RouteResult, { kind: 'download' }>;

/** How a download ended: sent whole, the client went away, or the client stopped reading and was cut off. */
export type DownloadOutcome = 'sent' | 'client_left' | 'stalled';

/**
 * Characters (or bytes) per socket write. A client that has not taken one piece within the stall timeout
 * has stopped reading; a client reading slowly but steadily (a few KB/s) never is cut off.
 */
const PIECE = 64 * 1024;

/**
 * Sends a download with back-pressure: the body is pulled (and its next page read) only as fast as the
 * client takes the bytes. While the socket holds unsent bytes, a client that takes none of a piece for
 * `watch.stallTimeoutMs` is disconnected, which ends the body. A failure of the body before the first byte is an
 * ordinary error answer; after it, the error handler cuts the connection, so a client never mistakes a
 * partial file for a whole one.
 */
export interface DownloadWatch {
  stallTimeoutMs: number;
  /** Told when the download starts and stops waiting on its client, for the gauge operators watch. */
  waiting(waiting: boolean): void;
}

export async function sendDownload(res: Response, download: Download, inTenant: InTenant, watch: DownloadWatch): Promise<DownloadOutcome> {
  let clientLeft = false;
  const clientGone = new AbortController();
  const onClose = () => {
    clientLeft = !res.writableFinished;
    if (clientLeft) clientGone.abort();
  };
  res.once('close', onClose);
  res.status(download.status).type(download.contentType);
  // Quoted whatever the name, as clients expect; the names are the server's own (ASCII).
  if (download.filename) res.set('Content-Disposition', `attachment; filename="${download.filename.replace(/["\\]/g, '\\$&')}"`);
  if (download.live) res.set(download.live.headers);
  const body = download.body(inTenant, clientGone.signal);
  try {
    for await (const chunk of body as AsyncIterable<string | Buffer>) {
      // Slices share the chunk's memory: a page is in memory once, however it is cut.
      for (let start = 0; start < chunk.length; start += PIECE) {
        if (clientLeft) return 'client_left';
        const piece = typeof chunk === 'string' ? chunk.slice(start, start + PIECE) : chunk.subarray(start, start + PIECE);
        if (res.write(piece)) continue;
        watch.waiting(true);
        const waited = await drainOf(res, watch.stallTimeoutMs).finally(() => watch.waiting(false));
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
