/**
 * Session counters (DESIGN §3.14). Plain integer fields: incrementing one costs
 * nothing measurable on the hot path; formatting happens only when scraped.
 */
export class SessionMetrics {
  /** Store reads issued. */
  loads = 0;
  /** Reads that found a live session. */
  hits = 0;
  /** Reads that found nothing, an expired session or unreadable metadata. */
  misses = 0;
  /** Sessions created. */
  creates = 0;
  /** Delta writes (commits, atomic updates and increments). */
  writes = 0;
  /** Idle-window refreshes sent. */
  touches = 0;
  /** Requests that read a session whose refresh was not yet due (no write sent). */
  touchesSkipped = 0;
  /** Compare-and-set attempts of `update()` that lost a race and retried. */
  conflictsRetried = 0;
  /** Writes refused because the session was destroyed meanwhile (logout stuck). */
  resurrectionsBlocked = 0;
  /** Store calls that failed or passed their deadline. */
  storeErrors = 0;
  destroys = 0;
  regenerations = 0;
  /** Stored values that were not valid JSON and were ignored. */
  corruptValues = 0;
  /** Writes refused for exceeding `maxSessionBytes`. */
  tooLarge = 0;

  snapshot(): Record<string, number> {
    return { ...(this as unknown as Record<string, number>) };
  }

  /**
   * Prometheus text exposition format.
   * https://prometheus.io/docs/instrumenting/exposition_formats/
   */
  toPrometheus(prefix = 'unpinned_session_'): string {
    let out = '';
    for (const [name, value] of Object.entries(this.snapshot())) {
      const metric = `${prefix}${snake(name)}_total`;
      out += `# TYPE ${metric} counter\n${metric} ${value}\n`;
    }
    return out;
  }
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
