import http from "node:http";
import type { AddressInfo } from "node:net";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { DomainError } from "../../common/errors.js";
import { byteArrayJson, historyEntryJson } from "../../gateway/responders/history-json.js";
import type { HistoryEntry } from "../../gateway/responders/history-store.js";
import { loadInParts, type Weighed } from "../../gateway/streamed-reads/parts.js";
import { sendJsonArray } from "../../gateway/streamed-reads/send.js";
import { LongReads } from "../../gateway/streamed-reads/turns.js";

// Long reads (a responder's history, a tracker's revisions) are loaded a part
// at a time and written as they are read (gateway/streamed-reads/): held whole
// and turned into one string, 60 MiB of history took 1.5 GB of the gateway's
// memory and froze every other request for 16 s.

const text = (pieces: Iterable<Buffer | string>) => [...pieces].map((p) => p.toString()).join("");

describe("the JSON of a history entry", () => {
  it("writes bytes as JSON.stringify writes an array of them, across slice boundaries", () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    for (const n of [0, 1, 9, 10, 99, 100, 256, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 3 * 16 * 1024 + 5]) {
      const bytes = Buffer.alloc(n);
      for (let i = 0; i < n; i++) bytes[i] = every[(i * 7) % 256]!;
      expect(text(byteArrayJson(bytes)), `${n} bytes`).toBe(JSON.stringify([...bytes]));
    }
  });

  it("answers the reference's shape, field for field, with and without a response", () => {
    const base: HistoryEntry = {
      id: "42",
      publicId: "0193a1b2-4c5d-4e6f-8a7b-9c0d1e2f3a4b",
      responderId: "0b9e2a56-7f1c-4a38-9d7e-3c1f1b2a4d5e",
      method: "POST",
      url: "/hook?a=\"b\"",
      headers: [["content-type", "text/plain; charset=é"]],
      body: Buffer.from("hi\n"),
      durationUs: 1234,
      createdAt: 1733556000,
    };
    const full: HistoryEntry = { ...base, clientAddress: "[::1]:5050", response: { statusCode: 201, headers: [["x-a", "1"], ["x-b", ""]], body: Buffer.from([0, 255]) } };
    const bare: HistoryEntry = { ...base, headers: [], body: Buffer.alloc(0), response: { statusCode: 204, headers: [], body: Buffer.alloc(0) } };
    for (const e of [base, full, bare]) {
      // The API's id is the entry's UUID, never the table's own.
      const expected = {
        id: e.publicId,
        responderId: e.responderId,
        ...(e.clientAddress === undefined ? {} : { clientAddress: e.clientAddress }),
        method: e.method,
        url: e.url,
        headers: e.headers.map(([n, v]) => [n, [...Buffer.from(v, "latin1")]]),
        body: [...e.body],
        durationMs: e.durationUs / 1000,
        ...(e.response
          ? {
              responseStatusCode: e.response.statusCode,
              responseHeaders: e.response.headers.map(([n, v]) => [n, [...Buffer.from(v, "latin1")]]),
              responseBody: [...e.response.body],
            }
          : {}),
        createdAt: e.createdAt,
      };
      expect(text(historyEntryJson(e))).toBe(JSON.stringify(expected));
    }
  });
});

describe("a long read's parts", () => {
  const index: Weighed[] = [
    { id: "5", bytes: 300 },
    { id: "4", bytes: 300 },
    { id: "3", bytes: 500 },
    { id: "2", bytes: 2000 },
    { id: "1", bytes: 100 },
  ];

  it("loads a part only when the reader reaches it, each within the part's bytes (one item at least)", async () => {
    const loads: string[][] = [];
    const read = loadInParts(index, async (ids) => {
      loads.push(ids);
      // Answered in no particular order: the index's order is kept.
      return ids.map((id) => ({ id })).reverse();
    }, 1000);
    expect(read.bytes).toBe(3200);
    const it = read.items[Symbol.asyncIterator]();
    expect(loads).toEqual([]);
    expect((await it.next()).value).toEqual({ id: "5" });
    expect(loads).toEqual([["5", "4"]]);
    expect((await it.next()).value).toEqual({ id: "4" });
    expect(loads).toHaveLength(1);
    const rest: string[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value.id);
    expect(rest).toEqual(["3", "2", "1"]);
    expect(loads).toEqual([["5", "4"], ["3"], ["2"], ["1"]]);
  });

  it("leaves out what is gone since the index was read", async () => {
    const read = loadInParts(index, async (ids) => ids.filter((id) => id !== "4" && id !== "2").map((id) => ({ id })), 1000);
    const seen: string[] = [];
    for await (const item of read.items) seen.push(item.id);
    expect(seen).toEqual(["5", "3", "1"]);
  });
});

describe("places for long reads", () => {
  const isBusy = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e instanceof DomainError && e.kind === "busy";
    }
    return false;
  };

  it("gives an account two long reads at once and the gateway `total`; short reads take no long read's place", () => {
    const reads = new LongReads({ freeBytes: 1000, perAccount: 2, total: 3, shortPerAccount: 10 });
    const a1 = reads.take("a", 1000);
    reads.take("a", 5000);
    expect(isBusy(() => reads.take("a", 1000))).toBe(true);
    for (let i = 0; i < 10; i++) reads.take("a", 999);
    reads.take("b", 1000);
    expect(isBusy(() => reads.take("c", 1000))).toBe(true);
    expect(reads.size).toBe(3);
    // Given back once, however often the response's end is reported.
    a1();
    a1();
    expect(reads.size).toBe(2);
    reads.take("c", 1000);
    expect(isBusy(() => reads.take("a", 1000))).toBe(true);
  });

  it("gives an account `shortPerAccount` short reads at once, whatever its long ones, and frees each once", () => {
    const reads = new LongReads({ freeBytes: 1000, perAccount: 2, total: 3, shortPerAccount: 3 });
    const short = [reads.take("a", 0), reads.take("a", 10), reads.take("a", 999)];
    expect(isBusy(() => reads.take("a", 1))).toBe(true);
    // Another account's, and the account's long reads, are counted apart.
    reads.take("b", 1);
    reads.take("a", 1000);
    expect([reads.shortSize, reads.size]).toEqual([4, 1]);
    short[0]!();
    short[0]!();
    expect(reads.shortSize).toBe(3);
    reads.take("a", 5);
    expect(isBusy(() => reads.take("a", 5))).toBe(true);
  });
});

describe("a long read's answer", () => {
  it("gives its place back when the reader left before the answer began", async () => {
    const reads = new LongReads({ freeBytes: 1, perAccount: 2, total: 16, shortPerAccount: 16 });
    let readerGone!: () => void;
    const gone = new Promise<void>((resolve) => (readerGone = resolve));
    let answered!: () => void;
    const handled = new Promise<void>((resolve) => (answered = resolve));
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const app = Fastify();
    app.get("/read", async (_req, reply) => {
      // The read is still being prepared (its index queried, say) when the reader leaves.
      reply.raw.once("close", readerGone);
      arrived();
      await gone;
      try {
        return sendJsonArray(reply, loadInParts([{ id: "1", bytes: 10 }], async (ids) => ids.map((id) => ({ id }))), (x) => [JSON.stringify(x)], { reads, userId: "u" });
      } finally {
        answered();
      }
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      const req = http.get({ host: "127.0.0.1", port: (app.server.address() as AddressInfo).port, path: "/read", agent: false });
      req.on("error", () => {});
      await arrival;
      req.destroy();
      await handled;
      expect(reads.size).toBe(0);
    } finally {
      await app.close();
    }
  });
});
