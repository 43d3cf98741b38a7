import { AsyncResource } from 'node:async_hooks';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { finished, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express, { Request, RequestHandler, Response } from 'express';
import { TenantSlots } from '../infra/tenant-slots';
import { AppError } from '../lib/errors';
import { BulkBody, tooManyRows } from '../http/route';
import { SpooledUpload } from '../http/spooled-upload';
import { Credential } from '../modules/auth/principal';

const tooLarge = () => new AppError('PAYLOAD_TOO_LARGE', 'The request body is too large');

/**
 * The body link of a bulk route, read right after authentication (stage 7) so that only known callers can make the
 * server read a large body. It first takes one of the tenant's import slots (429 beyond them, before a
 * byte of the body is read), held until the answer is sent. JSON arrays go through express.json with
 * the route's byte limit; text/csv is written as it arrives to a private temporary file, read back as a
 * stream by the route (no row becomes an object here, and no database connection waits on the upload).
 * Past `maxRows` (JSON items, or CSV lines as counted while spooling) the body is refused here already.
 */
export function bulkBody(spec: BulkBody, slots: TenantSlots): RequestHandler {
  const json = express.json({ limit: spec.limitBytes, strict: true, type: ['application/json', 'application/*+json'] });
  return (req, res, next) => {
    const done = AsyncResource.bind(next);
    try {
      takeSlot(res, slots);
    } catch (error) {
      done(error);
      return;
    }
    if (req.is('text/csv')) {
      spool(req, spec).then((upload) => {
        res.once('close', () => void upload.discard());
        req.body = upload;
        done();
      }, done);
      return;
    }
    json(req, res, (error?: unknown) => {
      if (!error && Array.isArray(req.body) && req.body.length > spec.maxRows) done(tooManyRows(spec.maxRows));
      else done(error);
    });
  };
}

/** A tenant caller's slot, freed when the response is done; other callers are refused later by the chain. */
function takeSlot(res: Response, slots: TenantSlots): void {
  const credential = res.locals.credential as Credential | undefined;
  if (!credential || !('tenantId' in credential)) return;
  res.once('close', slots.take(credential.tenantId));
}

async function spool(req: Request, spec: BulkBody): Promise<SpooledUpload> {
  if (Number(req.headers['content-length'] ?? 0) > spec.limitBytes) throw tooLarge();
  const encoding = req.headers['content-encoding'];
  if (encoding && encoding !== 'identity') throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'The content encoding is not supported');
  const charset = /;\s*charset=["']?([^;"'\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1];
  if (charset && !/^utf-?8$/i.test(charset)) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send CSV as UTF-8');

  let received = 0;
  const lines = csvLineCounter();
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      // The header is a line too: one more than maxRows is still within the limit.
      callback(received > spec.limitBytes ? tooLarge() : lines(chunk) > spec.maxRows + 1 ? tooManyRows(spec.maxRows) : null, chunk);
    },
  });
  // A directory only this process's user may read: the body holds personal data.
  const directory = await mkdtemp(path.join(tmpdir(), 'crm-import-'));
  const file = path.join(directory, 'body.csv');
  // The request stays out of the pipeline: a refused body must not destroy it (and the socket with it)
  // before the error answer is sent; Node discards whatever is left of it after the answer.
  finished(req, (error) => {
    if (error) limiter.destroy(error);
  });
  req.pipe(limiter);
  try {
    await pipeline(limiter, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
  } catch (error) {
    req.unpipe(limiter);
    await rm(directory, { recursive: true, force: true });
    throw asUploadError(error);
  }
  return new SpooledUpload(directory, file, received);
}

/**
 * Counts the non-empty lines of a CSV as it streams, line breaks inside quoted cells not counted: as many as
 * the records a parser finds in a file with \n line ends (the route's parser counts exactly, whatever the ends).
 */
function csvLineCounter(): (chunk: Buffer) => number {
  const QUOTE = 0x22;
  const LF = 0x0a;
  const CR = 0x0d;
  let quoted = false;
  let lineHasContent = false;
  let lines = 0;
  return (chunk) => {
    for (const byte of chunk) {
      if (byte === QUOTE) quoted = !quoted;
      if (byte === LF && !quoted) {
        if (lineHasContent) lines += 1;
        lineHasContent = false;
      } else if (byte !== CR && !lineHasContent) {
        lineHasContent = true;
      }
    }
    return lines + (lineHasContent ? 1 : 0);
  };
}

function asUploadError(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET') {
    return new AppError('VALIDATION_ERROR', 'The request was aborted by the client');
  }
  return error;
}
