/**
 * What the request path needs from the balancer, as one object built once: the proxy and the
 * upgrade relay read it, the balancer (balancer.ts) owns and mutates it.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Backend } from './backend.js';
import type { Settings } from './config.js';
import type { ForwardingOptions } from './headers.js';
import type { LegacyAffinity } from './legacy.js';
import type { Members } from './members.js';
import type { Metrics } from './metrics.js';
import type { RetryPolicy } from './retry.js';
import type { PickContext, Strategy } from './strategies/index.js';

export interface Core {
  readonly settings: Settings;
  readonly members: Members;
  readonly metrics: Metrics;
  readonly retry: RetryPolicy;
  strategy: Strategy;
  /** Legacy affinity; the request path asks it only while `legacy.active` (a server is retiring). */
  readonly legacy: LegacyAffinity;
  forwarding: ForwardingOptions;
  /** Set by `close()`: new requests get 503 and responses close their connection. */
  closing: boolean;
  /** Open upgraded connections (client side), destroyed if still open when shutdown ends. */
  readonly tunnels: Set<Duplex>;
  /** Requests (and tunnels) in flight through the balancer, for graceful shutdown. */
  active: number;
  onIdle: (() => void) | undefined;
  /**
   * Gives a client socket to Node's HTTP server (its own 'connection' listener), with `bytes`
   * put back to be read first: the client side's hand-over, and upgrade requests that carry a
   * body, re-read as plain requests.
   */
  handToNode: (socket: Socket, bytes: Buffer | undefined) => void;
  /** `members.seqOf`, bound once so pick contexts need no closure per request. */
  readonly seqOf: (backend: Backend) => number;
}

/** Picks a server for one attempt, never one in `tried`; undefined when none is left. */
export function pickBackend(core: Core, ctx: PickContext): Backend | undefined {
  let candidates = core.members.candidates();
  const tried = ctx.tried;
  if (tried && tried.size > 0) {
    candidates = candidates.filter((b) => !tried.has(b));
    // In panic mode the candidates include servers known to be down, so that a flapping health
    // check cannot pile all load on the survivors (members.ts). A retry is different: its
    // request just failed, and another down server would fail it again (two of three servers
    // dead, round-robin: a quarter of all requests answered 502). It goes to a server that is
    // available when there is one.
    if (core.members.panic) {
      const available = candidates.filter((b) => b.isAvailable(ctx.now));
      if (available.length > 0) candidates = available;
    }
  }
  if (candidates.length === 0) {
    // Sticky pins may point at a draining server that is not a candidate; let the strategy say.
    return core.strategy.stripCookie ? core.strategy.pick(candidates, ctx) : undefined;
  }
  return core.strategy.pick(candidates, ctx);
}

export function makePickContext(
  core: Core,
  req: PickContext['req'],
  clientIp: string,
  tried: Set<Backend> | undefined,
): PickContext {
  return {
    req,
    clientIp,
    members: core.members.all(),
    tried,
    now: core.settings.clock.now(),
    seqOf: core.seqOf,
  };
}
