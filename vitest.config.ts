import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Examples import the package by its public name, as users do; tests run them from source.
    alias: [
      { find: /^unpinned$/, replacement: src('session/index.ts') },
      { find: /^unpinned\/redis$/, replacement: src('stores/redis/index.ts') },
      { find: /^unpinned\/memory$/, replacement: src('stores/memory/index.ts') },
      { find: /^unpinned\/express$/, replacement: src('adapters/express/index.ts') },
      { find: /^unpinned\/sqlite$/, replacement: src('stores/sqlite/index.ts') },
      { find: /^unpinned\/fastify$/, replacement: src('adapters/fastify/index.ts') },
      { find: /^unpinned\/web$/, replacement: src('adapters/web/index.ts') },
      { find: /^unpinned\/node$/, replacement: src('adapters/node/index.ts') },
      { find: /^unpinned\/realtime$/, replacement: src('realtime/index.ts') },
      { find: /^unpinned\/express-session$/, replacement: src('adapters/express-session/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Suites start real redis-server processes and HTTP servers; a generous
    // ceiling keeps a stuck child from hanging CI, it is not a performance bound.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
