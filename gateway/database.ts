import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Db, DbTarget } from "../common/db.js";
import { migratedTemplate, openMigrated } from "../common/migrate.js";

// Beside this module, which sits at the service's root: so the path holds in
// `npm start`'s bundle (dist/gateway/main.js) too, where every module's
// import.meta.url is the bundle's.
const MIGRATIONS = path.join(path.dirname(fileURLToPath(import.meta.url)), "migrations");
// Held while migrating, so replicas starting together do not race.
const MIGRATION_LOCK = 0x6a7e;

/** The gateway's database, migrated. */
export function openGatewayDb(target: DbTarget): Promise<Db> {
  return openMigrated(target, MIGRATIONS, MIGRATION_LOCK);
}

/** The embedded template a new gateway folder is copied from (made by `npm install`, else by the first start). */
export function gatewayTemplate(): Promise<string> {
  return migratedTemplate(MIGRATIONS, MIGRATION_LOCK);
}
