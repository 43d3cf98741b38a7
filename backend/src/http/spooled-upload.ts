import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';

/**
 * A request body kept in a private temporary file while it arrived (bulk CSV imports), so that however
 * slowly a client uploads, no database connection waits for it: the route reads it back as a stream
 * once it is whole. The file goes when the answer has been sent (`discard`).
 */
export class SpooledUpload {
  constructor(
    readonly directory: string,
    readonly file: string,
    readonly bytes: number,
  ) {}

  open(): Readable {
    return createReadStream(this.file);
  }

  discard(): Promise<void> {
    return rm(this.directory, { recursive: true, force: true });
  }
}
