// Getting the broker's database to the schema this code expects, in one of
// three ways (docs/deployment.md, "The audit trail's database roles"):
//   - BROKER_MIGRATION_DATABASE_URL set: migrate as the tables' owner, then
//     grant the runtime role what serving needs;
//   - the runtime role may create tables (an embedded database, or a Postgres
//     role that owns its database): migrate as that role;
//   - neither (compose: a one-shot migrate container did it): only check that
//     nothing is pending.
import { openDb, type Db, type DbTarget } from "../../common/db.js";
import type { Logger } from "../../common/log.js";
import { migrate, pendingMigrations } from "../../common/migrate.js";
import { MIGRATIONS_DIR } from "../files.js";
import { currentRole, grantRuntime, ownsTables } from "./runtime-role.js";

const MIGRATION_LOCK = 0x5ec0b0;

export class DatabaseNotReady extends Error {}

/** Migrates as `owner` and grants `runtimeRole`; what the one-shot migrate step runs. */
export async function migrateAsOwner(owner: Db, runtimeRole: string): Promise<string[]> {
  const applied = await migrate(owner, MIGRATIONS_DIR, MIGRATION_LOCK);
  await grantRuntime(owner, runtimeRole);
  return applied;
}

export async function prepareDatabase(db: Db, migrationDb: DbTarget | undefined, log: Logger): Promise<void> {
  const runtimeRole = await currentRole(db);
  if (migrationDb) {
    const owner = await openDb(migrationDb, { poolSize: 1 });
    try {
      await migrateAsOwner(owner, runtimeRole);
    } finally {
      await owner.close();
    }
    if (await ownsTables(db, runtimeRole)) {
      throw new DatabaseNotReady(`the runtime role ${runtimeRole} owns the audit table: BROKER_DATABASE_URL must log in as another role than BROKER_MIGRATION_DATABASE_URL`);
    }
    log.info({ role: runtimeRole }, "tables migrated by their owner; the broker serves as a role that may only append to the audit trail");
    return;
  }
  if (db.kind === "pglite" || (await mayCreateTables(db))) {
    await migrate(db, MIGRATIONS_DIR, MIGRATION_LOCK);
    if (db.kind === "postgres" && (await ownsTables(db, runtimeRole))) {
      log.warn(
        { role: runtimeRole },
        "the broker's database role owns the audit table, so it could disable its append-only trigger: migrate as another role (BROKER_MIGRATION_DATABASE_URL)",
      );
    }
    return;
  }
  const pending = await pendingMigrations(db, MIGRATIONS_DIR);
  if (pending.length > 0) {
    throw new DatabaseNotReady(
      `${pending.length} database migration(s) pending (${pending.join(", ")}) and the role ${runtimeRole} may not apply them: run node dist/broker/database/migrate-main.js as the owner first, or set BROKER_MIGRATION_DATABASE_URL`,
    );
  }
}

async function mayCreateTables(db: Db): Promise<boolean> {
  const rows = await db.query<{ ok: boolean }>("SELECT has_schema_privilege(current_user, 'public', 'CREATE') AS ok");
  return rows[0]?.ok === true;
}
