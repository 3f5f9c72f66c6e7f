// The one-shot migrate step of a deployment where the broker serves as a
// role that may not change the schema (docker-compose.yml's broker-migrate):
// migrates as the tables' owner and grants BROKER_RUNTIME_ROLE what serving
// needs, then exits. Only this step holds the owner's credentials.
import { z } from "zod";
import { ConfigError, parseEnv, postgresUrl } from "../../common/config.js";
import { openDb } from "../../common/db.js";
import { failStart } from "../../common/service-process.js";
import { migrateAsOwner } from "./prepare.js";

const schema = z.object({
  BROKER_MIGRATION_DATABASE_URL: postgresUrl.unwrap(),
  BROKER_RUNTIME_ROLE: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case Postgres role name"),
});

async function main() {
  let env;
  try {
    env = parseEnv(schema);
  } catch (err) {
    if (err instanceof ConfigError) failStart("broker-migrate", err.message);
    throw err;
  }
  const owner = await openDb({ url: env.BROKER_MIGRATION_DATABASE_URL }, { poolSize: 1 });
  try {
    const applied = await migrateAsOwner(owner, env.BROKER_RUNTIME_ROLE);
    process.stdout.write(`broker-migrate: ${applied.length} migration(s) applied; ${env.BROKER_RUNTIME_ROLE} may read and append to the audit trail\n`);
  } finally {
    await owner.close();
  }
}

main().catch((err: unknown) => failStart("broker-migrate", err instanceof Error ? err.message : String(err)));
