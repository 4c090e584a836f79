/**
 * `unpinned check` as a library: run an app as replicas, replay a journey, and
 * find the state it keeps in one process (DESIGN.md §12, docs/check.md).
 *
 * @example
 * import { check, formatReport } from 'unpinned/check';
 * const result = await check({ app: 'node server.js', har: 'journey.har', replicas: 3 });
 * console.log(formatReport(result));
 * process.exitCode = result.verdict === 'stateless' ? 0 : 1;
 */
export { type CheckOptions, type CheckResult, check, type Finding, type StepSummary } from './check.js';
export { type CulpritId, culprits } from './culprits.js';
export { CheckError, type CheckErrorCode } from './errors.js';
export { type CheckWarning, formatReport } from './report.js';
export type { StepApi, StepOptions, StepResponse } from './script-journey.js';
