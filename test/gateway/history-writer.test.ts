import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDb, type Db } from "../../common/db.js";
import { migrate } from "../../common/migrate.js";
import { historyOf, type TrackedRequest } from "../../gateway/responders/history-store.js";
import { HistoryWriter } from "../../gateway/webhooks/history-writer.js";
import { ADMIN_URL, createDatabase, dropDatabase } from "../helpers/databases.js";

// Responder history as the gateway writes it under load: many served
// requests per transaction, on the real database of the run (Postgres when
// TEST_DATABASE_URL is set, else PGlite as under `npm start`).

let db: Db;
let dir: string;
let url: string | undefined;
let userId: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "history-writer-"));
  url = ADMIN_URL ? await createDatabase("history_writer") : undefined;
  db = await openDb(url ? { url } : { pgliteDir: dir }, { poolSize: 4 });
  await migrate(db, path.resolve(import.meta.dirname, "../../gateway/migrations"), 1);
  userId = crypto.randomUUID();
  await db.query("INSERT INTO users (id, email, handle) VALUES ($1, $2, $3)", [userId, `${userId}@example.test`, crypto.randomBytes(8).toString("hex")]);
});
afterAll(async () => {
  await db?.close();
  if (url) await dropDatabase(url);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function responder(keep: number): Promise<string> {
  const id = crypto.randomUUID();
  await db.query(
    `INSERT INTO responders (id, user_id, name, path_type, path, method, enabled, requests_to_track, status_code, headers, secrets_access)
     VALUES ($1, $2, $3, '=', $4, 'GET', true, $5, 200, '[]', 'none')`,
    [id, userId, id, `/${id}`, keep],
  );
  return id;
}

let clock = Date.now();
function request(responderId: string, url: string, receivedAt = ++clock): TrackedRequest {
  return { responderId, method: "POST", url, headers: [["X-Seq", url]], body: Buffer.from(`body of ${url}`), durationUs: 7, receivedAt };
}

const urlsOf = async (id: string) => (await historyOf(db, id, 100)).map((e) => e.url);
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
    const [entry] = await historyOf(db, two, 1);
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
    const awayDir = path.join(dir, "away");
    const away = await (url ? openDb({ url }, { poolSize: 1 }) : openDb({ pgliteDir: awayDir }));
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

  it("drain() returns once everything recorded is written", async () => {
    const id = await responder(10);
    const writer = new HistoryWriter(db);
    for (let i = 1; i <= 6; i++) void writer.record(request(id, `/d?${i}`), 10);
    await writer.drain();
    expect(await urlsOf(id)).toHaveLength(6);
  });
});
