import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openDb, type Db } from "../../common/db.js";
import { migrate } from "../../common/migrate.js";
import { ADMIN_URL, createDatabase, dropDatabase } from "./databases.js";

/** A database a test file opens for itself (openScratchDatabase). */
export interface ScratchDatabase {
  db: Db;
  /** Its Postgres URL; undefined on PGlite. */
  url: string | undefined;
  /** A folder of the test's own, removed on close; on PGlite the data lives in `db/` inside it. */
  dir: string;
  /** Closes the database, then drops it (Postgres) and removes the folder. */
  close(): Promise<void>;
}

/**
 * A throwaway database of the run's kind (its own Postgres database under
 * TEST_DATABASE_URL, else a PGlite folder, as under `npm start`), with the
 * named service's migrations applied unless `migrations` is false.
 */
export async function openScratchDatabase(
  prefix: string,
  options: { poolSize?: number; migrations?: "gateway" | "broker" | false } = {},
): Promise<ScratchDatabase> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix.replaceAll("_", "-")}-`));
  const url = ADMIN_URL ? await createDatabase(prefix) : undefined;
  const db = await openDb(url ? { url } : { pgliteDir: path.join(dir, "db") }, { poolSize: options.poolSize ?? 2 });
  const close = async () => {
    await db.close();
    if (url) await dropDatabase(url);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const service = options.migrations ?? "gateway";
  if (service) {
    await migrate(db, path.resolve(import.meta.dirname, `../../${service}/migrations`), 1).catch(async (err: unknown) => {
      await close();
      throw err;
    });
  }
  return { db, url, dir, close };
}
