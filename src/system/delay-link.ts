/**
 * A TCP relay on loopback in front of one server: a network link whose faults
 * can be switched on and off while clients use it.
 *
 * - Latency per direction (`setDelay`): replicas that replicate through it lag
 *   their master as replicas in another zone do; an app whose Redis is behind
 *   it pays the round trip of a remote Redis. Bytes never overtake each other
 *   when the delay changes.
 * - A reset in the middle of a request (part of it reached the server) or
 *   after the request reached the server but before its reply came back: an
 *   RST both ways, as a load balancer or a crashing NAT sends.
 * - Half-open (`partition`): nothing is forwarded either way and no socket is
 *   closed, as when packets are dropped. The connections it cut off never carry
 *   a byte again, even after `heal()`: the network forgot them (a NAT or
 *   firewall that lost its state), so only a client that notices and opens a new
 *   connection recovers. Connections opened during the partition wait, and go
 *   through once it heals (their SYN retransmitted).
 * - `cut()`: every connection closed at once, bytes in flight dropped, as a
 *   master host that dies takes its unsent buffers with it.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Milliseconds each direction adds: `up` client → server, `down` server → client. */
export interface LinkDelay {
  up: number;
  down: number;
}

export interface ResetOptions {
  /** Only a request chunk containing this text (e.g. `EVALSHA`) triggers it; default: the next one. */
  match?: string;
}

type Item = Buffer | 'end' | 'reset';

/** One direction of one connection: delivers in order, each item `delay` ms after it arrived. */
class Pipe {
  #queue: { at: number; item: Item }[] = [];
  #last = 0;
  #timer: NodeJS.Timeout | null = null;
  held = false;

  constructor(
    readonly to: Socket,
    readonly delay: () => number,
    readonly onReset: () => void,
  ) {}

  push(item: Item): void {
    // Never before what came earlier: a delay lowered meanwhile must not reorder bytes.
    const at = Math.max(performance.now() + this.delay(), this.#last);
    this.#last = at;
    this.#queue.push({ at, item });
    this.drain();
  }

  drain(): void {
    if (this.held || this.#timer) return;
    const now = performance.now();
    while (this.#queue.length > 0 && this.#queue[0]!.at <= now) {
      const { item } = this.#queue.shift()!;
      if (item === 'reset') {
        this.onReset();
        return;
      }
      if (this.to.destroyed) continue;
      if (item === 'end') this.to.end();
      else this.to.write(item);
    }
    if (this.#queue.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.drain();
    }, this.#queue[0]!.at - now);
  }

  drop(): void {
    this.#queue = [];
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

interface Trigger extends ResetOptions {
  kind: 'during-request' | 'before-reply' | 'partition';
  done: () => void;
}

/** One relayed connection: client side `inbound`, server side `outbound`. */
class Relay {
  /** Cut off by a partition (or reset): whatever arrives is dropped, for good. */
  dead = false;
  /** A reset armed to fire when the server's next reply arrives. */
  resetOnReply: Trigger | null = null;
  readonly up: Pipe;
  readonly down: Pipe;

  constructor(
    readonly inbound: Socket,
    readonly outbound: Socket,
    delay: () => LinkDelay,
  ) {
    const reset = () => this.reset();
    this.up = new Pipe(outbound, () => delay().up, reset);
    this.down = new Pipe(inbound, () => delay().down, reset);
  }

  hold(held: boolean): void {
    this.up.held = held;
    this.down.held = held;
    if (!held) {
      this.up.drain();
      this.down.drain();
    }
  }

  /** RST both ways: the peers see ECONNRESET, nothing still queued is delivered. */
  reset(): void {
    this.kill();
    for (const s of [this.inbound, this.outbound]) if (!s.destroyed) s.resetAndDestroy();
  }

  kill(): void {
    this.dead = true;
    this.up.drop();
    this.down.drop();
  }
}

export class DelayLink {
  readonly port: number;
  readonly #server: Server;
  readonly #relays = new Set<Relay>();
  #delay: LinkDelay;
  #partitioned = false;
  #triggers: Trigger[] = [];
  #accepted = 0;

  private constructor(server: Server, port: number, delay: LinkDelay) {
    this.#server = server;
    this.port = port;
    this.#delay = delay;
  }

  /**
   * Listen on a free loopback port; each connection is relayed to `targetPort`.
   * @example
   * const link = await DelayLink.open(redis.port, { up: 5, down: 5 });
   * const store = redisStore({ url: `redis://127.0.0.1:${link.port}` });
   * link.partition(); // half-open: requests get 503 within commandTimeout
   */
  static async open(targetPort: number, delay: number | Partial<LinkDelay> = 0): Promise<DelayLink> {
    // Half-open both ways: a FIN is a byte like any other, relayed (or dropped) by the link itself.
    const server = createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const link = new DelayLink(server, (server.address() as { port: number }).port, toDelay(delay));
    server.on('connection', (inbound) => link.#relay(inbound, targetPort));
    return link;
  }

  /** Connections accepted so far (a client that replaced its connection made one more). */
  get accepted(): number {
    return this.#accepted;
  }

  /** Change the latency of every connection, now and later. */
  setDelay(delay: number | Partial<LinkDelay>): void {
    this.#delay = toDelay(delay);
  }

  /** The next matching request chunk reaches the server only in part, then both sides get an RST. */
  resetDuringRequest(options: ResetOptions = {}): Promise<void> {
    return this.#arm('during-request', options);
  }

  /** The next matching request reaches the server whole; its reply is dropped and both sides get an RST. */
  resetBeforeReply(options: ResetOptions = {}): Promise<void> {
    return this.#arm('before-reply', options);
  }

  /**
   * Half-open: stop forwarding both ways, close nothing; the connections open now
   * are lost for good. With `match`, from the moment a request chunk containing
   * it arrives (that chunk is lost too), so a test can pick the command it falls on.
   */
  partition(options: ResetOptions = {}): Promise<void> {
    if (options.match === undefined) {
      this.#partition();
      return Promise.resolve();
    }
    return this.#arm('partition', options);
  }

  /** The network is back: connections opened during the partition go through, new ones are relayed. */
  heal(): void {
    this.#partitioned = false;
    for (const relay of this.#relays) relay.hold(false);
  }

  /** Cut the link: connections close at once, bytes still in flight are dropped. */
  async cut(): Promise<void> {
    for (const relay of this.#relays) {
      relay.kill();
      relay.inbound.destroy();
      relay.outbound.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #partition(): void {
    this.#partitioned = true;
    for (const relay of this.#relays) relay.kill();
  }

  #arm(kind: Trigger['kind'], options: ResetOptions): Promise<void> {
    return new Promise((done) => this.#triggers.push({ kind, ...options, done }));
  }

  #relay(inbound: Socket, targetPort: number): void {
    this.#accepted++;
    const outbound = createConnection({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    const relay = new Relay(inbound, outbound, () => this.#delay);
    this.#relays.add(relay);
    if (this.#partitioned) relay.hold(true);
    for (const s of [inbound, outbound]) s.on('error', () => {});
    inbound.on('data', (chunk: Buffer) => this.#request(relay, chunk));
    outbound.on('data', (chunk: Buffer) => this.#reply(relay, chunk));
    // A close goes through in order, after the bytes before it. A dead relay tells
    // neither side (the server keeps its end of a half-open connection) until `cut()`.
    const ended = (pipe: Pipe) => {
      let once = false;
      return () => {
        if (once || relay.dead) return;
        once = true;
        pipe.push('end');
      };
    };
    for (const [socket, pipe] of [
      [inbound, relay.up],
      [outbound, relay.down],
    ] as const) {
      const end = ended(pipe);
      socket.on('end', end);
      socket.on('close', end);
      socket.on('close', () => {
        if (!relay.dead && inbound.destroyed && outbound.destroyed) this.#relays.delete(relay);
      });
    }
  }

  #request(relay: Relay, chunk: Buffer): void {
    if (relay.dead) return;
    const trigger = this.#take(chunk);
    if (trigger?.kind === 'partition') {
      this.#partition();
      trigger.done();
      return;
    }
    if (trigger?.kind === 'during-request') {
      // Part of the command reaches the server, never the rest.
      relay.up.push(chunk.subarray(0, Math.max(1, chunk.length >> 1)));
      relay.up.push('reset');
      trigger.done();
      return;
    }
    if (trigger) relay.resetOnReply = trigger;
    relay.up.push(chunk);
  }

  #reply(relay: Relay, chunk: Buffer): void {
    if (relay.dead) return;
    const trigger = relay.resetOnReply;
    if (trigger) {
      // The command ran; the client never hears so.
      relay.reset();
      trigger.done();
      return;
    }
    relay.down.push(chunk);
  }

  #take(chunk: Buffer): Trigger | undefined {
    const i = this.#triggers.findIndex((t) => t.match === undefined || chunk.includes(t.match));
    return i < 0 ? undefined : this.#triggers.splice(i, 1)[0];
  }
}

function toDelay(delay: number | Partial<LinkDelay>): LinkDelay {
  if (typeof delay === 'number') return { up: delay, down: delay };
  return { up: delay.up ?? 0, down: delay.down ?? 0 };
}
