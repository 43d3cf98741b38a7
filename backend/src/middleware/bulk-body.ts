import { AsyncResource } from 'node:async_hooks';
import { finished, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CsvError, parse } from 'csv-parse';
import express, { Request, RequestHandler } from 'express';
import { AppError } from '../lib/errors';
import { BulkBody } from '../lib/http/route';

const tooLarge = () => new AppError('PAYLOAD_TOO_LARGE', 'The request body is too large');
const tooManyRows = (maxRows: number) => new AppError('PAYLOAD_TOO_LARGE', `An import takes at most ${maxRows} rows`);

/**
 * The body of a bulk route, read right after authentication (stage 7) so that only known callers can
 * make the server read a large body. JSON arrays go through express.json with the route's limit; text/csv is
 * parsed as it arrives into one object per record, keyed by the header's names, values left as text.
 */
export function bulkBody(spec: BulkBody): RequestHandler {
  const json = express.json({ limit: spec.limitBytes, strict: true, type: ['application/json', 'application/*+json'] });
  return (req, res, next) => {
    const done = AsyncResource.bind(next);
    if (req.is('text/csv')) {
      csvRows(req, spec).then((rows) => {
        req.body = rows;
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

async function csvRows(req: Request, spec: BulkBody): Promise<Array<Record<string, string>>> {
  if (Number(req.headers['content-length'] ?? 0) > spec.limitBytes) throw tooLarge();
  const encoding = req.headers['content-encoding'];
  if (encoding && encoding !== 'identity') throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'The content encoding is not supported');
  const charset = /;\s*charset=["']?([^;"'\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1];
  if (charset && !/^utf-?8$/i.test(charset)) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send CSV as UTF-8');

  let received = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      callback(received > spec.limitBytes ? tooLarge() : null, chunk);
    },
  });
  const rows: Array<Record<string, string>> = [];
  let header: string[] | undefined;
  // Thrown inside the consumer, an error would reach pipeline as an AbortError: it is kept here instead.
  let refusal: AppError | undefined;
  // The request stays out of the pipeline: a refused body must not destroy it (and the socket with it)
  // before the error answer is sent; Node discards whatever is left of it after the answer.
  finished(req, (error) => {
    if (error) limiter.destroy(error);
  });
  req.pipe(limiter);
  try {
    await pipeline(limiter, parse({ bom: true, skip_empty_lines: true }), async (records: AsyncIterable<string[]>) => {
      for await (const record of records) {
        if (!header) {
          header = record.map((name) => name.trim());
          refusal = headerProblem(header);
        } else if (rows.length === spec.maxRows) {
          refusal = tooManyRows(spec.maxRows);
        } else {
          // fromEntries defines own properties, so a "__proto__" column stays a column (refused later as unknown).
          rows.push(Object.fromEntries(header.map((name, index) => [name, record[index] ?? ''])));
        }
        if (refusal) return;
      }
    });
  } catch (error) {
    refusal ??= asBodyError(error);
  }
  if (refusal) {
    req.unpipe(limiter);
    throw refusal;
  }
  return rows;
}

function headerProblem(names: string[]): AppError | undefined {
  const problems = names.flatMap((name, index) =>
    !name
      ? [{ field: `column ${index + 1}`, message: 'has no name in the CSV header' }]
      : names.indexOf(name) !== index
        ? [{ field: name, message: 'appears more than once in the CSV header' }]
        : [],
  );
  return problems.length ? new AppError('VALIDATION_ERROR', 'The CSV header is invalid', problems) : undefined;
}

function asBodyError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  // csv-parse names most of its codes CSV_*, but not all (INVALID_OPENING_QUOTE): its class says it.
  if (error instanceof CsvError || code.startsWith('CSV_')) {
    return new AppError('VALIDATION_ERROR', 'The CSV body is malformed', [{ field: 'body', message: (error as Error).message }]);
  }
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET') {
    return new AppError('VALIDATION_ERROR', 'The request was aborted by the client');
  }
  throw error;
}
