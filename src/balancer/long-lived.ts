/**
 * Ending long-lived connections gracefully (DESIGN §13): a WebSocket tunnel or an event stream
 * can outlive any deploy, so draining a server (and closing the balancer) gives them a deadline,
 * then ends each one, spread over a window so the clients do not all reconnect at once, with a
 * hint to come back rather than a cut:
 *
 * - WebSocket: a close frame with code 1012, "service restart" (RFC 6455 §5.5.1, IANA registry
 *   https://www.iana.org/assignments/websocket/websocket.xhtml#close-code-number), written to the
 *   client only between two of the server's frames (the tunnel counts frame lengths, §5.2), never
 *   inside one; if no boundary comes within a moment the tunnel is cut as before.
 * - Server-Sent Events: `retry: <ms>` (jittered) between two events, then the end of the stream;
 *   the browser reconnects, through the balancer, to another server, with its Last-Event-ID.
 *   https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */

/** One long-lived exchange of a server, as the drain sees it. */
export interface LongLived {
  /** End it now, gracefully where it can (`retryMs`: reconnect hint for event streams). */
  end(retryMs: number): void;
}

/** Where the server's frames begin and end, in the bytes it sends (RFC 6455 §5.2). */
export class FrameBoundary {
  #need = 0;
  #head: number[] = [];

  get atBoundary(): boolean {
    return this.#need === 0 && this.#head.length === 0;
  }

  feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#need > 0) {
        const take = Math.min(this.#need, chunk.length - i);
        this.#need -= take;
        i += take;
        continue;
      }
      const head = this.#head;
      head.push(chunk[i++]!);
      if (head.length < 2) continue;
      const len7 = head[1]! & 0x7f;
      const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      const mask = head[1]! & 0x80 ? 4 : 0;
      if (head.length < 2 + ext + mask) continue;
      let length = len7;
      if (ext > 0) {
        length = 0;
        for (let k = 2; k < 2 + ext; k++) length = length * 256 + head[k]!;
      }
      this.#head = [];
      this.#need = length;
    }
  }
}

/** An unmasked close frame (server to client) with code 1012 and a short reason. */
export function serviceRestartFrame(): Buffer {
  const reason = Buffer.from('service restart');
  return Buffer.concat([Buffer.from([0x88, 2 + reason.length, 0x03, 0xf4]), reason]);
}

/** Between two events of an event stream: the bytes sent so far end with a blank line. */
export function atEventBoundary(tail: string): boolean {
  return tail.endsWith('\n\n') || tail.endsWith('\r\n\r\n') || tail.endsWith('\r\r');
}

/** End every one of `exchanges`, each at a random moment within `windowMs`. */
export function endSpread(exchanges: Iterable<LongLived>, windowMs: number, retryMs: number): Promise<void> {
  const ends = [...exchanges].map(
    (exchange) =>
      new Promise<void>((resolve) => {
        setTimeout(() => {
          exchange.end(Math.round(retryMs / 2 + Math.random() * retryMs));
          resolve();
        }, Math.random() * windowMs).unref();
      }),
  );
  return Promise.all(ends).then(() => {});
}
