// The broker runs as a role that may not rewrite history: the tables are
// owned by the role that migrates them, and the role the broker serves with
// gets exactly what serving needs. On audit_events that is SELECT and
// INSERT: no UPDATE, DELETE or TRUNCATE, and, not being the owner, no
// ALTER TABLE ... DISABLE TRIGGER or DROP TRIGGER either.
import pg from "pg";
import type { Db } from "../../common/db.js";

/** Tables the broker reads and writes freely; everything else it may not touch beyond the lines below. */
const READ_WRITE = ["secrets", "master_key_checks", "grant_uses"];

/** The role a runtime connection logs in as. */
export async function currentRole(db: Db): Promise<string> {
  return (await db.query<{ role: string }>("SELECT current_user AS role"))[0]!.role;
}

/**
 * Given by the owner (the migration connection) to the runtime role, at each
 * start, so a table added by a later migration is covered and a grant
 * someone added by hand is taken back.
 */
export async function grantRuntime(owner: Db, runtimeRole: string): Promise<void> {
  const role = pg.escapeIdentifier(runtimeRole);
  await owner.tx(async (q) => {
    await q.exec(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role}`);
    await q.exec(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${role}`);
    await q.exec(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${READ_WRITE.join(", ")} TO ${role}`);
    await q.exec(`GRANT SELECT, INSERT ON audit_events TO ${role}`);
    await q.exec(`GRANT SELECT ON schema_migrations TO ${role}`);
    await q.exec(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
  });
}

/** True when the runtime role owns the tables: then the split buys nothing, and the broker says so. */
export async function ownsTables(db: Db, role: string): Promise<boolean> {
  const rows = await db.query<{ owner: string }>("SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'audit_events'");
  return rows[0]?.owner === role;
}
