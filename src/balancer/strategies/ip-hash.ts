import type { Backend } from '../backend.js';
import { type PickContext, Strategy } from './strategy.js';

/**
 * Baseline: a hash of the client address picks the server (nginx `ip_hash`). The hash is taken
 * over every configured server, not only the available ones, so one server going down moves
 * only its own clients (to the next available server in the ring); the others keep theirs.
 * Behind another proxy, configure `trustedProxies` so the hash sees the real client.
 *
 * @example
 * createBalancer({ backends, strategy: 'ip-hash', trustedProxies: ['10.0.0.0/8'] });
 */
export class IpHashStrategy extends Strategy {
  readonly name = 'ip-hash';

  pick(candidates: readonly Backend[], ctx: PickContext): Backend | undefined {
    const ring = ctx.members;
    const n = ring.length;
    const start = fnv1a(ctx.clientIp) % n;
    for (let k = 0; k < n; k++) {
      const b = ring[(start + k) % n]!;
      if (candidates.includes(b)) return b;
    }
    return candidates[0];
  }
}

/** 32-bit FNV-1a: fast, well spread for short strings such as addresses. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
