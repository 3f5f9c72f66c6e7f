import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { openDb, type Db, type DbTarget } from "./db.js";
import { ensureDerivedTemplate, seedPgliteDir } from "./pglite-template.js";

const migrationFiles = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort();

/**
 * Applies `NNN_name.sql` files from a folder in order, once each, recording
 * them in schema_migrations. All pending files run in one transaction under
 * an advisory lock so replicas starting together do not race.
 */
export async function migrate(db: Db, dir: string, lockKey: number): Promise<string[]> {
  const files = migrationFiles(dir);
  return db.tx(async (q) => {
    await q.query("SELECT pg_advisory_xact_lock($1)", [lockKey]);
    await q.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const done = new Set((await q.query<{ id: string }>("SELECT id FROM schema_migrations")).map((r) => r.id));
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      await q.exec(fs.readFileSync(path.join(dir, file), "utf8"));
      await q.query("INSERT INTO schema_migrations (id) VALUES ($1)", [file]);
      applied.push(file);
    }
    return applied;
  });
}

/** The migration files not yet applied (all of them on a database never migrated). */
export async function pendingMigrations(db: Db, dir: string): Promise<string[]> {
  const files = migrationFiles(dir);
  const exists = await db.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  if (!exists[0]?.t) return files;
  const done = new Set((await db.query<{ id: string }>("SELECT id FROM schema_migrations")).map((r) => r.id));
  return files.filter((f) => !done.has(f));
}

/**
 * Opens a service's database and applies its migrations. A new embedded
 * folder starts as a copy of a template with them already applied (made
 * once per set of migration files), so `migrate` finds nothing to do there.
 */
export async function openMigrated(target: DbTarget, dir: string, lockKey: number): Promise<Db> {
  if ("pgliteDir" in target) await seedPgliteDir(target.pgliteDir, () => migratedTemplate(dir, lockKey));
  const db = await openDb(target);
  try {
    await migrate(db, dir, lockKey);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

/** The embedded template with the migrations in `dir` applied, named by their names and content. */
export function migratedTemplate(dir: string, lockKey: number): Promise<string> {
  const hash = crypto.createHash("sha256");
  for (const file of migrationFiles(dir)) hash.update(`${file}\0`).update(fs.readFileSync(path.join(dir, file))).update("\0");
  return ensureDerivedTemplate(`migrated-${hash.digest("hex").slice(0, 16)}`, async (folder) => {
    const db = await openDb({ pgliteDir: folder });
    try {
      await migrate(db, dir, lockKey);
    } finally {
      await db.close();
    }
  });
}
