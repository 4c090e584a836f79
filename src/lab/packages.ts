/**
 * Packages the realtime scenario needs beyond unpinned's own dependencies: Socket.IO, its
 * client and Redis adapter (the sticky column) and `eventsource` (the WHATWG EventSource the
 * stateless column's subscribers use). They are devDependencies, so an installed `unpinned`
 * may lack them. Asked for by name (`--scenario realtime`) the lab refuses to start without
 * them and says what to install; in the default set the scenario is skipped with that reason,
 * so `unpinned lab` still runs every other scenario.
 */
import { LabError, type Scenario } from './scenarios.js';

/** What the realtime scenario imports, with the versions it was built against. */
export const realtimePackages = {
  'socket.io': '4.8',
  'socket.io-client': '4.8',
  '@socket.io/redis-adapter': '8',
  eventsource: '4',
} as const;

export type RealtimePackage = keyof typeof realtimePackages;

/** Import an optional package; a missing one is the lab's typed error, never a bare stack trace. */
export async function loadPackage<T>(name: RealtimePackage): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    if (!isNotFound(error)) throw error;
    throw missingPackages([name]);
  }
}

/** The realtime scenario's packages that cannot be imported here. */
export async function missingRealtimePackages(): Promise<RealtimePackage[]> {
  const names = Object.keys(realtimePackages) as RealtimePackage[];
  const found = await Promise.all(
    names.map((name) =>
      import(name).then(
        () => true,
        (error: unknown) => {
          // Installed but broken is not "missing": that one must surface as it is.
          if (!isNotFound(error)) throw error;
          return false;
        },
      ),
    ),
  );
  return names.filter((_, i) => !found[i]);
}

export interface Skipped {
  scenario: string;
  reason: string;
}

/**
 * The scenarios to run, given which packages are missing: `explicit` (named on the command
 * line) makes a missing package an error; otherwise the scenarios that need it are skipped.
 */
export function planScenarios(
  selected: readonly Scenario[],
  explicit: boolean,
  missing: readonly RealtimePackage[],
): { run: Scenario[]; skipped: Skipped[] } {
  const needing = selected.filter((s) => s.realtime);
  if (missing.length === 0 || needing.length === 0) return { run: [...selected], skipped: [] };
  if (explicit) throw missingPackages(missing);
  return {
    run: selected.filter((s) => !s.realtime),
    skipped: needing.map((s) => ({ scenario: s.id, reason: needs(missing) })),
  };
}

function needs(missing: readonly RealtimePackage[]): string {
  const install = missing.map((name) => `${name}@${realtimePackages[name]}`).join(' ');
  return `needs ${missing.join(', ')}, not installed (npm install --save-dev ${install})`;
}

function missingPackages(missing: readonly RealtimePackage[]): LabError {
  return new LabError(
    'UNPINNED_ERR_LAB_MISSING_PACKAGE',
    `The realtime scenario ${needs(missing)}. Install ${missing.length === 1 ? 'it' : 'them'}, or run the other scenarios (leave realtime out of --scenario).`,
  );
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}
