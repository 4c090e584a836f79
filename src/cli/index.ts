#!/usr/bin/env node
/**
 * The `unpinned` command. Subcommands live in their own files; this one only assembles them.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { registerCheck } from './check.js';
import { registerConfig } from './config.js';
import { registerLab } from './lab.js';
import { registerLb } from './lb.js';
import { registerSystemCommands } from './system.js';

/**
 * Builds the `unpinned` program (exported so tests and wrappers can run it in-process).
 *
 * @example
 * await createProgram().parseAsync(['node', 'unpinned', 'lb', '--listen', ':8080', '--backend', 'http://127.0.0.1:3001']);
 */
export function createProgram(): Command {
  const program = new Command('unpinned').description('Take web apps off sticky sessions.');
  registerSystemCommands(program);
  registerLb(program);
  registerConfig(program);
  registerLab(program);
  registerCheck(program);
  return program;
}

// Run only as the entry point (npm's bin is a symlink, hence realpath), not when imported.
const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (isMain) {
  createProgram()
    .parseAsync(process.argv)
    .catch((err: Error & { code?: string }) => {
      process.stderr.write(`unpinned: ${err.message}${err.code ? ` (${err.code})` : ''}\n`);
      process.exit(1);
    });
}
