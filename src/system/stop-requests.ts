/**
 * When `unpinned up` must stop: on SIGINT (Ctrl-C), SIGTERM (`timeout`, Docker, a process
 * manager), SIGHUP (its terminal closed), and when its parent process goes away. A second
 * signal while stopping asks for the fast stop.
 *
 * Parent death is found by polling `process.ppid`, which the kernel changes to the reaper (init
 * or a subreaper) once the parent has died. The alternatives work only for some parents: stdin
 * ends only when the parent owned it (from a terminal or `npm start` it is the terminal, which
 * stays), an IPC channel exists only under a Node parent that asked for one, and Linux's
 * PR_SET_PDEATHSIG needs native code. A poll every half second costs one getppid call.
 */

export interface StopHandlers {
  /** Stop gracefully; `reason` says why (a signal name, or the parent's death). */
  stop(reason: string): void;
  /** Stop now (a second signal during the stop). */
  force(signal: NodeJS.Signals): void;
}

const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Calls `handlers` on every stop request until the returned function is called.
 *
 * @example
 * const dispose = onStopRequest({ stop: (why) => void system.stop(), force: () => system.forceStop() });
 */
export function onStopRequest(
  handlers: StopHandlers,
  { parentPollMs = 500, repeatMs = 500 }: { parentPollMs?: number; repeatMs?: number } = {},
): () => void {
  let first: { signal: NodeJS.Signals | null; at: number } | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!first) {
      first = { signal, at: Date.now() };
      handlers.stop(signal);
      return;
    }
    // Ctrl-C under `npm start` arrives twice: from the terminal (to the whole foreground group)
    // and forwarded by npm (@npmcli/run-script's signal-manager). That echo is not a second press.
    if (signal === first.signal && Date.now() - first.at < repeatMs) return;
    handlers.force(signal);
  };
  for (const signal of signals) process.on(signal, onSignal);

  const parent = process.ppid;
  // Already the reaper's child (PID 1 in a container, or a daemon): there is no parent to lose.
  const timer =
    parent > 1
      ? setInterval(() => {
          if (process.ppid === parent || first) return;
          first = { signal: null, at: Date.now() };
          handlers.stop(`parent process ${parent} exited`);
        }, parentPollMs)
      : null;
  timer?.unref();

  return () => {
    for (const signal of signals) process.off(signal, onSignal);
    if (timer) clearInterval(timer);
  };
}
