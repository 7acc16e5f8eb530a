import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const contractsEntry = fileURLToPath(new URL('./packages/contracts/src/index.ts', import.meta.url));
const localDecisionsEntry = fileURLToPath(
  new URL('./packages/server/src/modules/decisions/snapshot-index.ts', import.meta.url),
);

export default defineConfig({
  resolve: {
    // The contracts package exports its built dist/; tests run straight from the TypeScript source.
    alias: [
      { find: /^@roster\/contracts$/, replacement: contractsEntry },
      // The SDK bundles the server's decision code (packages/sdk); tests run it from source too.
      { find: /^@roster\/server\/local-decisions$/, replacement: localDecisionsEntry },
    ],
  },
  test: {
    include: ['tests/**/*.test.ts', 'packages/*/src/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    // One child process per worker (native better-sqlite3 and pg sockets behave best in forks);
    // test files run in parallel, two at a time: the machines have two cores.
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
