/**
 * Builds dist/ once before the suites: the system tests run the demo shop and
 * the CLI as real child processes, from the built JavaScript, as users do.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync(
    process.execPath,
    [
      fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)),
      '-p',
      'tsconfig.build.json',
    ],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}
