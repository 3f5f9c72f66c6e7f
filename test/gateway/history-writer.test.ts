import crypto from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDb, type Db } from "../../common/db.js";
import { entryBytes, type TrackedRequest } from "../../gateway/responders/history-store.js";
import { BATCH_MAX_BYTES, HistoryWriter, VACUUM_EVERY_ENTRIES } from "../../gateway/webhooks/history-writer.js";
import { openScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.js";
import { storedHistory } from "../helpers/store-rows.js";

// Responder history as the gateway writes it under load: many served
// requests per transaction, on the real database of the run (Postgres when
// TEST_DATABASE_URL is set, else PGlite as under `npm start`).

let scratch: ScratchDatabase | undefined;
let db: Db;
let userId: string;

beforeAll(async () => {
  scratch = await openScratchDatabase("history_writer", { poolSize: 4 });
  db = scratch.db;
  userId = await newUser();
});
afterAll(() => scratch?.close());

async function newUser(): Promise<string> {
  const id = crypto.randomUUID();
  await db.query("INSERT INTO users (id, email, handle) VALUES ($1, $2, $3)", [id, `${id}@example.test`, crypto.randomBytes(8).toString("hex")]);
  return id;
}

const owners = new Map<string, string>();
async function responder(keep: number, owner = userId): Promise<string> {
  const id = crypto.randomUUID();
  await db.query(
    `INSERT INTO responders (id, user_id, name, path_type, path, method, enabled, requests_to_track, status_code, headers, secrets_access)
     VALUES ($1, $2, $3, '=', $4, 'GET', true, $5, 200, '[]', 'none')`,
    [id, owner, id, `/${id}`, keep],
  );
  owners.set(id, owner);
  return id;
}

let clock = Date.now();
function request(responderId: string, url: string, receivedAt = ++clock, body = Buffer.from(`body of ${url}`)): TrackedRequest {
  return { responderId, userId: owners.get(responderId)!, method: "POST", url, headers: [["X-Seq", url]], body, durationUs: 7, receivedAt };
}

const urlsOf = async (id: string) => (await storedHistory(db, id, 100)).map((e) => e.url);
const rowsEverInserted = async () =>
  Number((await db.query<{ n: string }>("SELECT (CASE WHEN is_called THEN last_value ELSE 0 END)::text AS n FROM responder_requests_id_seq"))[0]!.n);

describe("HistoryWriter", () => {
  it("writes a burst in one go and never sends the entries the cap would delete at once", async () => {
    const [two, three, many] = [await responder(2), await responder(3), await responder(30)];
    const writer = new HistoryWriter(db);
    const before = await rowsEverInserted();
    const written: Array<Promise<void>> = [];
    for (let i = 1; i <= 20; i++) {
      written.push(writer.record(request(two, `/two?${i}`), 2));
      written.push(writer.record(request(three, `/three?${i}`), 3));
      written.push(writer.record(request(many, `/many?${i}`), 30));
    }
    await Promise.all(written);
    expect(await urlsOf(two)).toEqual(["/two?20", "/two?19"]);
    expect(await urlsOf(three)).toEqual(["/three?20", "/three?19", "/three?18"]);
    expect(await urlsOf(many)).toEqual(Array.from({ length: 20 }, (_, i) => `/many?${20 - i}`));
    // One insert per kept entry: written one transaction per request, the 60 would each have taken an id.
    expect((await rowsEverInserted()) - before).toBe(2 + 3 + 20);
    const [entry] = await storedHistory(db, two, 1);
    expect(entry).toMatchObject({ method: "POST", headers: [["X-Seq", "/two?20"]], body: Buffer.from("body of /two?20"), durationUs: 7 });
  });

  it("orders by arrival, not by when the entry was recorded", async () => {
    const id = await responder(3);
    const writer = new HistoryWriter(db);
    const t = ++clock;
    clock += 10;
    // The second request came in first but finished last (a slow script).
    await Promise.all([
      writer.record(request(id, "/late", t + 5), 3),
      writer.record(request(id, "/latest", t + 9), 3),
      writer.record(request(id, "/early", t + 1), 3),
      writer.record(request(id, "/earliest", t), 3),
    ]);
    expect(await urlsOf(id)).toEqual(["/latest", "/late", "/early"]);
  });

  it("keeps the cap across batches and across two writers (two gateways) on the same responders", async () => {
    const [a, b] = [await responder(4), await responder(1)];
    const writers = [new HistoryWriter(db), new HistoryWriter(db)];
    const written: Array<Promise<void>> = [];
    for (let turn = 0; turn < 15; turn++) {
      for (const [w, writer] of writers.entries()) {
        written.push(writer.record(request(a, `/a?${turn}.${w}`), 4), writer.record(request(b, `/b?${turn}.${w}`), 1));
      }
      // Let batches start while more arrive.
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(written);
    expect(await urlsOf(a)).toEqual(["/a?14.1", "/a?14.0", "/a?13.1", "/a?13.0"]);
    expect(await urlsOf(b)).toEqual(["/b?14.1"]);
  });

  it("lets a read wait for the entries an account recorded by then: written() resolves once they are in the table, not before", async () => {
    const other = await newUser();
    const [mine, theirs] = [await responder(5), await responder(5, other)];
    const writer = new HistoryWriter(db);
    let done = false;
    const recorded = writer.record(request(mine, "/mine"), 5).then(() => (done = true));
    void writer.record(request(theirs, "/theirs"), 5);
    await writer.written(userId);
    expect(done).toBe(true);
    expect(await urlsOf(mine)).toEqual(["/mine"]);
    await recorded;
    // With nothing of the account waiting, it resolves at once.
    await writer.written(userId);
    await writer.written(crypto.randomUUID());
    await writer.drain();
    expect(await urlsOf(theirs)).toEqual(["/theirs"]);
  });

  it("leaves out the entries of a responder deleted before they were written, and writes the rest", async () => {
    const [kept, gone] = [await responder(5), await responder(5)];
    await db.query("DELETE FROM responders WHERE id = $1", [gone]);
    const writer = new HistoryWriter(db);
    await Promise.all([writer.record(request(kept, "/kept"), 5), writer.record(request(gone, "/gone"), 5)]);
    expect(await urlsOf(kept)).toEqual(["/kept"]);
    expect(await db.query("SELECT id FROM responder_requests WHERE responder_id = $1", [gone])).toEqual([]);
  });

  it("fails only the entry the database refuses", async () => {
    const id = await responder(5);
    const writer = new HistoryWriter(db);
    // Postgres text cannot hold NUL: the batch fails, then each entry is written on its own.
    const outcomes = await Promise.allSettled([
      writer.record(request(id, "/before"), 5),
      writer.record(request(id, "/nul\u0000"), 5),
      writer.record(request(id, "/after"), 5),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(await urlsOf(id)).toEqual(["/after", "/before"]);
  });

  it("fails the whole batch at once, without a write per entry, when the database is away", async () => {
    // A second, real handle on the run's kind of database, closed before the writer uses it.
    const { url, dir } = scratch!;
    const away = await (url ? openDb({ url }, { poolSize: 1 }) : openDb({ pgliteDir: path.join(dir, "away") }));
    await away.close();
    const writer = new HistoryWriter(away);
    const id = await responder(5);
    const outcomes = await Promise.allSettled([writer.record(request(id, "/one"), 5), writer.record(request(id, "/two"), 5)]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
    // The same error for both: the batch's, not one per entry written on its own.
    const [a, b] = outcomes as PromiseRejectedResult[];
    expect(a!.reason).toBe(b!.reason);
    expect(await urlsOf(id)).toEqual([]);
  });

  it("keeps the table from growing with every entry ever written (an embedded database has no autovacuum)", async () => {
    // 100 responders keeping 30: every batch writes 3,000 entries and its trims delete the 3,000 before them.
    const owner = await newUser();
    const ids = await Promise.all(Array.from({ length: 100 }, () => responder(30, owner)));
    const writer = new HistoryWriter(db);
    const round = () => Promise.all(ids.flatMap((id) => Array.from({ length: 30 }, (_, i) => writer.record(request(id, `/r?${i}`, ++clock, Buffer.alloc(100)), 30))));
    const tableBytes = async () => Number((await db.query<{ n: string }>("SELECT pg_total_relation_size('responder_requests')::text AS n"))[0]!.n);
    const rounds = Math.ceil((2 * VACUUM_EVERY_ENTRIES) / 3000);
    for (let i = 0; i < rounds; i++) await round();
    const early = await tableBytes();
    for (let i = 0; i < 2 * rounds; i++) await round();
    // Without the vacuums the second figure is about twice the first: the dead rows of twice as many rounds more.
    expect(await tableBytes()).toBeLessThan(early * 1.3);
    expect((await storedHistory(db, ids[0]!, 100)).length).toBe(30);
  });

  it("drain() returns once everything recorded is written", async () => {
    const id = await responder(10);
    const writer = new HistoryWriter(db);
    for (let i = 1; i <= 6; i++) void writer.record(request(id, `/d?${i}`), 10);
    await writer.drain();
    expect(await urlsOf(id)).toHaveLength(6);
  });
});

describe("an account's byte budget", () => {
  const KiB = 1024;
  const storedBytes = async (owner: string) =>
    Number(
      (
        await db.query<{ n: string }>(
          "SELECT COALESCE(sum(h.bytes), 0)::text AS n FROM responder_requests h JOIN responders r ON r.id = h.responder_id WHERE r.user_id = $1",
          [owner],
        )
      )[0]!.n,
    );

  it("keeps the newest entries that fit, across the account's responders, and leaves other accounts alone", async () => {
    const owner = await newUser();
    const [a, b] = [await responder(30, owner), await responder(30, owner)];
    const other = await responder(30, await newUser());
    const body = Buffer.alloc(3 * KiB, 120);
    const writer = new HistoryWriter(db, { bytesPerUser: 10 * KiB });
    // One at a time, so that the database's trim does the work, not the writer's memory.
    for (let i = 1; i <= 6; i++) {
      await writer.record(request(i % 2 ? a : b, `/${i}`, ++clock, body), 30);
      await writer.record(request(other, `/other?${i}`), 30);
    }
    // Each entry weighs a little over 3 KiB: three fit in 10 KiB, and they are the newest three of both responders.
    expect(await urlsOf(a)).toEqual(["/5"]);
    expect(await urlsOf(b)).toEqual(["/6", "/4"]);
    expect(await storedBytes(owner)).toBeLessThanOrEqual(10 * KiB);
    expect(await urlsOf(other)).toHaveLength(6);
  });

  it("checks an account's total again once it has added a sixteenth of its budget, one small batch at a time", async () => {
    const owner = await newUser();
    const ids = [await responder(30, owner), await responder(30, owner), await responder(30, owner)];
    const budget = 16 * KiB;
    const writer = new HistoryWriter(db, { bytesPerUser: budget });
    for (let i = 0; i < 90; i++) await writer.record(request(ids[i % 3]!, `/${i}`, ++clock, Buffer.alloc(400)), 30);
    // 90 entries of ~420 bytes: over twice the budget written, at most a sixteenth of it over at the end.
    const stored = await storedBytes(owner);
    expect(stored).toBeGreaterThan(budget - 2 * 420);
    expect(stored).toBeLessThanOrEqual(budget + budget / 16);
    // The newest are the ones kept.
    expect((await urlsOf(ids[2]!))[0]).toBe("/89");
    expect(await urlsOf(ids[0]!)).not.toContain("/0");
  });

  it("keeps an account's newest entry whatever it weighs", async () => {
    const owner = await newUser();
    const id = await responder(5, owner);
    const writer = new HistoryWriter(db, { bytesPerUser: 1 * KiB });
    await writer.record(request(id, "/big", ++clock, Buffer.alloc(5 * KiB)), 5);
    expect(await urlsOf(id)).toEqual(["/big"]);
    await writer.record(request(id, "/bigger", ++clock, Buffer.alloc(6 * KiB)), 5);
    expect(await urlsOf(id)).toEqual(["/bigger"]);
  });

  it("never sends what the budget would delete at once", async () => {
    const owner = await newUser();
    const [a, b] = [await responder(30, owner), await responder(30, owner)];
    const writer = new HistoryWriter(db, { bytesPerUser: 10 * KiB });
    const before = await rowsEverInserted();
    const written: Array<Promise<void>> = [];
    for (let i = 1; i <= 20; i++) written.push(writer.record(request(i % 2 ? a : b, `/${i}`, ++clock, Buffer.alloc(3 * KiB)), 30));
    await Promise.all(written);
    expect([...(await urlsOf(a)), ...(await urlsOf(b))].sort()).toEqual(["/18", "/19", "/20"]);
    expect((await rowsEverInserted()) - before).toBe(3);
  });

  it("splits a flood of large entries into bounded transactions, and another account's entry goes in the first", async () => {
    // Unbounded, one batch of over 256 MiB of JSON is refused whole, other accounts' entries with it.
    // Here 40 MiB stand for it: what is checked is each transaction's size, read back from the rows' xmin.
    const owner = await newUser();
    const flood = await Promise.all(Array.from({ length: 5 }, () => responder(30, owner)));
    const other = await responder(5, await newUser());
    const writer = new HistoryWriter(db, { bytesPerUser: 1024 * 1024 * KiB });
    const body = Buffer.alloc(1024 * KiB, 97);
    const written: Array<Promise<void>> = [];
    for (const id of flood) for (let i = 0; i < 8; i++) written.push(writer.record(request(id, `/flood?${i}`, ++clock, body), 30));
    written.push(writer.record(request(other, "/other"), 5));
    await Promise.all(written);
    const transactions = await db.query<{ tx: string; bytes: string; theirs: boolean }>(
      `SELECT h.xmin::text AS tx, sum(h.bytes)::text AS bytes, bool_or(h.responder_id = $2) AS theirs
       FROM responder_requests h WHERE h.responder_id = ANY($1::uuid[]) OR h.responder_id = $2
       GROUP BY h.xmin::text ORDER BY h.xmin::text::bigint`,
      [flood, other],
    );
    expect(transactions.length).toBeGreaterThanOrEqual(5);
    for (const t of transactions) expect(Number(t.bytes)).toBeLessThanOrEqual(BATCH_MAX_BYTES + body.length + KiB);
    // Accounts take turns: not after 40 MiB of the flood.
    expect(transactions[0]!.theirs).toBe(true);
    expect(await urlsOf(other)).toEqual(["/other"]);
    expect(transactions.reduce((n, t) => n + Number(t.bytes), 0)).toBe(40 * entryBytes(request(flood[0]!, "/flood?0", 0, body)) + entryBytes(request(other, "/other")));
  });

  it("counts an entry's bodies, URL and headers, the response's with them", () => {
    const r = request(crypto.randomUUID(), "/p?x=1", 1, Buffer.from("four"));
    expect(entryBytes(r)).toBe(4 + "/p?x=1".length + "X-Seq".length + "/p?x=1".length);
    const withResponse = { ...r, response: { statusCode: 200, headers: [["a", "bc"]] as [string, string][], body: Buffer.from("hello") } };
    expect(entryBytes(withResponse)).toBe(entryBytes(r) + 1 + 2 + 5);
  });
});
