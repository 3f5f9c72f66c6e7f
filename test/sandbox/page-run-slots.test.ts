import { describe, expect, it } from "vitest";
import { DomainError } from "../../common/errors.js";
import { FairSlots } from "../../sandbox/page-trackers/fair-slots.js";

// The browser's places for page runs (sandbox/page-trackers/fair-slots.ts):
// shared by turns between accounts, every place to an account alone, a
// bounded queue per account, and a caller who gives up leaving the queue.

/** Runs that last until the test ends them; `started` lists them in the order they got a place. */
function runs(slots: FairSlots) {
  const started: string[] = [];
  const ends = new Map<string, () => void>();
  const start = (user: string, name: string, signal?: AbortSignal) =>
    slots.run(
      user,
      () =>
        new Promise<string>((resolve) => {
          started.push(name);
          ends.set(name, () => resolve(name));
        }),
      signal,
    );
  const end = async (name: string) => {
    ends.get(name)!();
    await settled();
  };
  return { started, start, end };
}

/** A run given a place starts a few microtasks later (as a freed place's next run does). */
async function settled(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

const kindOf = (e: unknown) => (e instanceof DomainError ? e.kind : "other");

describe("the browser's places for page runs", () => {
  it("takes turns between accounts with a single place, not first come first served", async () => {
    const slots = new FairSlots(1, 8);
    const r = runs(slots);
    const done = [r.start("a", "a1"), r.start("a", "a2"), r.start("a", "a3"), r.start("b", "b1"), r.start("c", "c1")];
    await settled();
    expect(slots.state()).toEqual({ running: 1, waiting: 4 });
    // Nobody holds a place once a1 ends; a was served last, so b and c go first, then a again.
    await r.end("a1");
    expect(r.started).toEqual(["a1", "b1"]);
    await r.end("b1");
    expect(r.started.at(-1)).toBe("c1");
    await r.end("c1");
    expect(r.started.at(-1)).toBe("a2");
    await r.end("a2");
    expect(r.started.at(-1)).toBe("a3");
    await r.end("a3");
    await expect(Promise.all(done)).resolves.toEqual(["a1", "a2", "a3", "b1", "c1"]);
    expect(slots.state()).toEqual({ running: 0, waiting: 0 });
  });

  it("gives an account's second place to another account's first run", async () => {
    const slots = new FairSlots(2, 8);
    const r = runs(slots);
    r.start("a", "a1");
    r.start("a", "a2");
    r.start("a", "a3");
    r.start("b", "b1");
    await settled();
    expect(r.started).toEqual(["a1", "a2"]);
    await r.end("a1");
    // a still holds a place (a2), b none: b1 first, though a3 came earlier.
    expect(r.started).toEqual(["a1", "a2", "b1"]);
    await r.end("b1");
    expect(r.started.at(-1)).toBe("a3");
  });

  it("lets an account alone take every place", async () => {
    const slots = new FairSlots(3, 8);
    const r = runs(slots);
    for (const n of ["a1", "a2", "a3", "a4"]) r.start("a", n);
    await settled();
    expect(r.started).toEqual(["a1", "a2", "a3"]);
    expect(slots.state()).toEqual({ running: 3, waiting: 1 });
  });

  it("refuses an account's run past its waiting runs as busy, leaving the others' queue as it was", async () => {
    const slots = new FairSlots(1, 2);
    const r = runs(slots);
    r.start("a", "a1");
    r.start("a", "a2");
    r.start("a", "a3");
    // Asked before anything is spent on the run (its secrets are released after this check).
    expect(() => slots.checkRoom("a")).toThrow("at most 2 page runs of one account may wait for the browser");
    expect(() => slots.checkRoom("b")).not.toThrow();
    const refused = await r.start("a", "a4").catch((e: unknown) => e);
    expect(kindOf(refused)).toBe("busy");
    expect((refused as Error).message).toBe("at most 2 page runs of one account may wait for the browser; retry when one has ended");
    // Another account still queues.
    r.start("b", "b1");
    await settled();
    expect(slots.state()).toEqual({ running: 1, waiting: 3 });
    expect(r.started).toEqual(["a1"]);
  });

  it("drops a waiting run whose caller gave up, and never starts it", async () => {
    const slots = new FairSlots(1, 8);
    const r = runs(slots);
    r.start("a", "a1");
    const caller = new AbortController();
    const dropped = r.start("b", "b1", caller.signal).catch((e: unknown) => e);
    r.start("c", "c1");
    await settled();
    caller.abort();
    expect(kindOf(await dropped)).toBe("unavailable");
    expect(slots.state()).toEqual({ running: 1, waiting: 1 });
    await r.end("a1");
    expect(r.started).toEqual(["a1", "c1"]);
    // Given up before it asked: never queued.
    expect(kindOf(await r.start("d", "d1", AbortSignal.abort()).catch((e: unknown) => e))).toBe("unavailable");
  });

  it("frees the place of a run that fails", async () => {
    const slots = new FairSlots(1, 8);
    await expect(slots.run("a", () => Promise.reject(new Error("the page crashed")))).rejects.toThrow("the page crashed");
    expect(slots.state()).toEqual({ running: 0, waiting: 0 });
    await expect(slots.run("a", () => Promise.resolve("next"))).resolves.toBe("next");
  });
});
