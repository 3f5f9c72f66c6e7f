import { describe, expect, it } from "vitest";
import { RenderCache } from "../../gateway/webhooks/render-cache.js";
import type { ResponderRecord } from "../../gateway/responders/store.js";

// The rendered-template cache on its own: what it may keep and when it must forget.

const responder = (userId = "u1", id = "r1"): ResponderRecord => ({
  id,
  userId,
  name: id,
  location: { pathType: "=", path: "/" },
  method: "GET",
  enabled: true,
  settings: { requestsToTrack: 0, statusCode: 200, headers: [], body: "${secrets.A}" },
  access: { mode: "all", ids: [] },
  tagIds: [],
  createdAt: 0,
  updatedAt: 0,
});

const cache = (maxBytes = 1 << 20, ttlMs = 60_000) => new RenderCache({ maxBytes, ttlMs });

describe("render cache", () => {
  it("serves what was stored for the same responder definition and key", () => {
    const c = cache();
    const r = responder();
    c.set(r, "b", c.generation("u1"), ["alpha"]);
    expect(c.get(r, "b")).toEqual(["alpha"]);
    expect(c.get(r, "hb")).toBeUndefined();
    // A reloaded (possibly changed) definition is another record: a miss.
    expect(c.get({ ...r }, "b")).toBeUndefined();
  });

  it("forgets a user's entries when their secrets change, and only theirs", () => {
    const c = cache();
    const mine = responder("u1", "r1");
    const theirs = responder("u2", "r2");
    c.set(mine, "b", c.generation("u1"), ["alpha"]);
    c.set(theirs, "b", c.generation("u2"), ["beta"]);
    c.secretsChanged("u1");
    expect(c.get(mine, "b")).toBeUndefined();
    expect(c.get(theirs, "b")).toEqual(["beta"]);
  });

  it("does not store a render that started before a change", () => {
    const c = cache();
    const r = responder();
    const before = c.generation("u1");
    c.secretsChanged("u1"); // the rotation lands while the broker call is in flight
    c.set(r, "b", before, ["old value"]);
    expect(c.get(r, "b")).toBeUndefined();
  });

  it("does not store a render that started before a clear, for any user", () => {
    const c = cache();
    const r = responder("never-seen");
    const before = c.generation("never-seen");
    c.clear();
    c.set(r, "b", before, ["old value"]);
    expect(c.get(r, "b")).toBeUndefined();
  });

  it("holds at most maxBytes, dropping the oldest first", () => {
    const c = cache(4096);
    const rs = Array.from({ length: 8 }, (_, i) => responder("u1", `r${i}`));
    for (const r of rs) c.set(r, "b", c.generation("u1"), ["x".repeat(400)]); // ~864 bytes each
    expect(rs.map((r) => c.get(r, "b") !== undefined)).toEqual([false, false, false, false, true, true, true, true]);
  });

  it("expires entries after ttlMs", () => {
    let now = 1_000;
    const c = new RenderCache({ maxBytes: 1 << 20, ttlMs: 100, now: () => now });
    const r = responder();
    c.set(r, "b", c.generation("u1"), ["alpha"]);
    now += 99;
    expect(c.get(r, "b")).toEqual(["alpha"]);
    now += 1;
    expect(c.get(r, "b")).toBeUndefined();
  });

  it("keeps nothing when turned off", () => {
    const c = cache(0);
    const r = responder();
    c.set(r, "b", c.generation("u1"), ["alpha"]);
    expect(c.enabled).toBe(false);
    expect(c.get(r, "b")).toBeUndefined();
  });
});
