import crypto from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Db } from "../../common/db.js";
import { createLogger } from "../../common/log.js";
import { SECRETS_CHANNEL, SecretsGenerations } from "../../gateway/secrets/generations.js";
import { openScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.js";
import { until } from "../helpers/wait.js";

// Each user's secrets generation, which the caches of released values are keyed
// by. A write changes it once on the gateway that took it, and once on every
// other replica through NOTIFY. The gateway's own notification used to change
// it a second time whenever it arrived, so a cache filled in between was
// filled again.

let scratch: ScratchDatabase | undefined;
let db: Db;
const log = createLogger("test", "silent");

beforeAll(async () => {
  scratch = await openScratchDatabase("generations", { poolSize: 2, migrations: false });
  db = scratch.db;
});
afterAll(() => scratch?.close());

it("a write changes the generation once here, and once on another replica", async () => {
  const here = new SecretsGenerations();
  const there = new SecretsGenerations();
  await here.start(db, log);
  await there.start(db, log);
  try {
    const user = crypto.randomUUID();
    // local() counts the changes seen here (and, for this process, names them).
    const [hereBefore, thereBefore] = [here.local(user), there.local(user)];
    const grantBefore = here.of(user);
    await here.written(user);
    expect(here.of(user)).not.toBe(grantBefore);
    await until(() => there.local(user), (n) => n !== thereBefore);

    // Notifications arrive in order: once a later one from another replica
    // (for another user) has been seen here, our own has been too.
    const marker = crypto.randomUUID();
    const markerBefore = here.local(marker);
    await there.written(marker);
    await until(() => here.local(marker), (n) => n !== markerBefore);
    expect(here.local(user) - hereBefore).toBe(1);
    expect(there.local(user) - thereBefore).toBe(1);
  } finally {
    await here.stop();
    await there.stop();
  }
});

it("a notification in the older form (the user alone) still changes the generation", async () => {
  const here = new SecretsGenerations();
  await here.start(db, log);
  try {
    const user = crypto.randomUUID();
    const before = here.local(user);
    await db.query("SELECT pg_notify($1, $2)", [SECRETS_CHANNEL, user]);
    await until(() => here.local(user), (n) => n !== before);
    expect(here.local(user) - before).toBe(1);
  } finally {
    await here.stop();
  }
});
