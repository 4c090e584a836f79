/**
 * Optional request body limit for bodies of unknown length (chunked): counts bytes on the way
 * through and fails the upload once the limit is passed. Bodies with a Content-Length are
 * checked before anything is forwarded (proxy.ts), so this only runs when a limit is configured.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { balancerError } from './errors.js';

export class BodyLimit extends Transform {
  #seen = 0;
  readonly #max: number;

  constructor(max: number) {
    super();
    this.#max = max;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#max) {
      done(balancerError('UNPINNED_ERR_LB_BODY_TOO_LARGE', `Request body passed ${this.#max} bytes`));
      return;
    }
    done(null, chunk);
  }
}
