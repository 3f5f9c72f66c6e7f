import fs from "node:fs";
import { defineConfig } from "vitest/config";

// Test data folders (each stack's holds two embedded databases, copied from
// a 39 MB template and deleted at the end) go to memory where the machine
// has it: on this disk the copy and the removal cost 1.5-2 s of CPU per
// stack, in a suite that is CPU-bound.
function memoryTmpDir(): Record<string, string> {
  try {
    fs.accessSync("/dev/shm", fs.constants.W_OK);
    return { TMPDIR: "/dev/shm" };
  } catch {
    return {};
  }
}

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
    env: memoryTmpDir(),
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
