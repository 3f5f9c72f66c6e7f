import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The Postgres run (TEST_DATABASE_URL set) is about the real database;
    // `npm start` on its embedded default is checked by the PGlite run.
    // Several replicas need a database they can share, and database roles
    // need a server with more than one: Postgres only.
    exclude: process.env.TEST_DATABASE_URL
      ? ["test/e2e/**", "**/node_modules/**"]
      : ["test/replicas/**", "test/postgres/**", "**/node_modules/**"],
    // Each file starts real processes; two at a time suits a 2-core machine.
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
