import { afterAll, beforeAll, expect, it } from "vitest";
import type { Db } from "../../common/db.js";
import { purgeGrantUses } from "../../broker/grants/replay.js";
import { openScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.js";

// The replay guard's periodic purge, on the run's kind of database (Postgres
// when TEST_DATABASE_URL is set, else PGlite as under `npm start`).

let scratch: ScratchDatabase | undefined;
let db: Db;

beforeAll(async () => {
  scratch = await openScratchDatabase("grant_uses_purge", { poolSize: 2, migrations: "broker" });
  db = scratch.db;
});
afterAll(() => scratch?.close());

const now = () => Math.floor(Date.now() / 1000);
const use = (count: number, expiresIn: number) =>
  db.query(
    `INSERT INTO grant_uses (execution_id, expires_at)
     SELECT 'exec-' || gen_random_uuid(), to_timestamp($2) FROM generate_series(1, $1::int)`,
    [count, now() + expiresIn],
  );
const tableBytes = async () => Number((await db.query<{ n: string }>("SELECT pg_total_relation_size('grant_uses')::text AS n"))[0]!.n);

it("deletes only the uses of grants expired before the cut, and says how many", async () => {
  await use(30, -7200);
  await use(5, 3600);
  expect(await purgeGrantUses(db, now() - 3600)).toBe(30);
  expect(await db.query("SELECT 1 FROM grant_uses")).toHaveLength(5);
  expect(await purgeGrantUses(db, now() - 3600)).toBe(0);
});

it("leaves the table no larger after each purge (an embedded database has no autovacuum)", async () => {
  const round = async () => {
    await use(20_000, -7200);
    await purgeGrantUses(db, now() - 3600);
  };
  // Two rounds first: the primary key's index keeps the pages it grew to, and is reused after.
  await round();
  await round();
  const early = await tableBytes();
  for (let i = 0; i < 4; i++) await round();
  // Without the vacuum the table keeps every row ever inserted: about three times the first figure here.
  // (Not much less than twice: under a full parallel run on Postgres it once reached 1.49 times.)
  expect(await tableBytes()).toBeLessThan(early * 2);
});
