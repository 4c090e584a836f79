/**
 * better-sqlite3 is an optional dependency with a native build. It is loaded
 * only when a SQLite store is created, so `import 'unpinned/sqlite'` works and
 * everything else in unpinned runs where it could not be installed.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { UnpinnedError } from '../../session/errors.js';

export type Database = BetterSqlite3.Database;
type DatabaseConstructor = typeof BetterSqlite3;

const require = createRequire(import.meta.url);
let cached: DatabaseConstructor | null = null;

/** The better-sqlite3 constructor, or UNPINNED_ERR_MISSING_DEPENDENCY saying how to get it. */
export function loadDriver(moduleName = 'better-sqlite3'): DatabaseConstructor {
  if (cached && moduleName === 'better-sqlite3') return cached;
  let driver: DatabaseConstructor;
  try {
    driver = require(moduleName) as DatabaseConstructor;
  } catch (cause) {
    throw new UnpinnedError(
      'UNPINNED_ERR_MISSING_DEPENDENCY',
      `The SQLite store needs the "${moduleName}" package (version 12), which could not be loaded. Run \`npm install better-sqlite3@12\` (it needs a prebuilt binary for your platform, or python3, make and a C++ compiler to build one), or use unpinned/redis.`,
      { cause },
    );
  }
  if (moduleName === 'better-sqlite3') cached = driver;
  return driver;
}
