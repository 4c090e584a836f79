/**
 * Events published on `node:diagnostics_channel`, so tools (the supervisor, the lab, APM) can
 * observe the balancer without a reference to it. Publishing checks `hasSubscribers` first: when
 * nobody listens, an event costs one property read.
 *
 * @example
 * import diagnostics_channel from 'node:diagnostics_channel';
 * diagnostics_channel.subscribe('unpinned:balancer:state', (msg) => console.log(msg));
 */
import diagnosticsChannel from 'node:diagnostics_channel';

/** A server changed state: `{ id, url, state, reason }`. */
export const stateChannel = diagnosticsChannel.channel('unpinned:balancer:state');
/** An attempt failed and is retried elsewhere: `{ from, method, url, attempt, error }`. */
export const retryChannel = diagnosticsChannel.channel('unpinned:balancer:retry');
/** A request finished: `{ server, method, url, status, ms }` (also failures, with `error`). */
export const requestChannel = diagnosticsChannel.channel('unpinned:balancer:request');

/** Publishes `build()` only when someone subscribes; `build` runs only then. */
export function publish(channel: diagnosticsChannel.Channel, build: () => unknown): void {
  if (channel.hasSubscribers) channel.publish(build());
}
