/**
 * The HTML report of a lab run: one self-contained directory (index.html, the
 * results as data, and Chart.js copied from the installed package), readable
 * offline: nothing is fetched from anywhere when it is opened.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Claim } from './claims.js';
import { reportPage } from './report-page.js';
import type { LabResult } from './run.js';

/** Path of Chart.js's UMD build in node_modules (its package exports only the ES build). */
export function chartLibraryPath(): string {
  const entry = createRequire(import.meta.url).resolve('chart.js');
  return join(dirname(entry), 'chart.umd.min.js');
}

/**
 * Write the report into `dir` (created if missing); returns the path of index.html.
 *
 * @example
 * writeReport('lab-report', await runLab({ durationMs: 4000 }));
 */
export function writeReport(dir: string, result: LabResult & { claims?: Claim[] }): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(chartLibraryPath(), join(dir, 'chart.umd.min.js'));
  // JSON inside a <script>: escape '<' so no value can close the element.
  const data = JSON.stringify(result).replace(/</g, '\\u003c');
  writeFileSync(join(dir, 'data.js'), `window.LAB = ${data};\n`);
  const index = join(dir, 'index.html');
  writeFileSync(index, reportPage());
  return index;
}
