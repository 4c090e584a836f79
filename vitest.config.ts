import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Suites start real redis-server processes and HTTP servers; a generous
    // ceiling keeps a stuck child from hanging CI, it is not a performance bound.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
