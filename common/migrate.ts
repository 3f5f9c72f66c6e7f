import fs from "node:fs";
import path from "node:path";
import type { Db } from "./db.js";

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
