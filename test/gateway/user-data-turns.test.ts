import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { DomainError } from "../../common/errors.js";
import { installErrorHandling } from "../../gateway/http/errors.js";
import { EXPORT_TURNS, exportTurns } from "../../gateway/user-data/export.js";
import { KeyDerivations } from "../../gateway/user-data/key-derivations.js";
import { openValues } from "../../gateway/user-data/secret-values.js";

// An import carrying secret values costs one Argon2id derivation on libuv's
// pool; the bounds keep a flood of imports from queuing everyone's file and
// DNS work behind them. Exports take turns the same way (gateway/user-data/turns.ts):
// each may hold a large document in the gateway's memory.

/** A derivation that ends when the test says so, and counts how many ran at once. */
function gate() {
  let running = 0;
  let most = 0;
  const opens: (() => void)[] = [];
  const derive = () =>
    new Promise<string>((resolve) => {
      running += 1;
      most = Math.max(most, running);
      opens.push(() => {
        running -= 1;
        resolve("key");
      });
    });
  return { derive, openNext: () => opens.shift()?.(), started: () => opens.length, most: () => most };
}

const isBusy = (e: unknown) => e instanceof DomainError && e.kind === "busy";

describe("key derivations for imported secret values", () => {
  it("gives one account one derivation at a time, refusing the second at once", async () => {
    const d = new KeyDerivations({ concurrency: 1, maxQueued: 8 });
    const g = gate();
    const first = d.run("user-a", g.derive);
    await expect(d.run("user-a", g.derive)).rejects.toSatisfy(isBusy);
    // Another account is not held back by it.
    const other = d.run("user-b", g.derive);
    g.openNext();
    await expect(first).resolves.toBe("key");
    await until(() => g.started() === 1);
    g.openNext();
    await expect(other).resolves.toBe("key");
    // Once it has ended, the account may import again.
    const again = d.run("user-a", g.derive);
    await until(() => g.started() === 1);
    g.openNext();
    await expect(again).resolves.toBe("key");
  });

  it("runs at most `concurrency` at once and refuses past `maxQueued`, then frees the places", async () => {
    const d = new KeyDerivations({ concurrency: 2, maxQueued: 5 });
    const g = gate();
    const accepted = ["u1", "u2", "u3", "u4", "u5"].map((u) => d.run(u, g.derive));
    await expect(d.run("u6", g.derive)).rejects.toSatisfy(isBusy);
    for (let i = 0; i < 5; i++) {
      await until(() => g.started() > 0);
      g.openNext();
    }
    await expect(Promise.all(accepted)).resolves.toEqual(["key", "key", "key", "key", "key"]);
    expect(g.most()).toBe(2);
    const later = d.run("u6", g.derive);
    await until(() => g.started() === 1);
    g.openNext();
    await expect(later).resolves.toBe("key");
  });

  it("frees the account's place when a derivation fails", async () => {
    const d = new KeyDerivations({ concurrency: 1, maxQueued: 8 });
    await expect(d.run("user-a", () => Promise.reject(new Error("no memory")))).rejects.toThrow("no memory");
    await expect(d.run("user-a", () => Promise.resolve("key"))).resolves.toBe("key");
  });

  it("applies to an import's real derivation: the same account's second import at once is refused before deriving", async () => {
    const d = new KeyDerivations();
    const encryption = { alg: "aes-256-gcm", kdf: "argon2id", salt: Buffer.alloc(16, 7).toString("base64") };
    const secrets = [{ name: "A", encryptedValue: Buffer.alloc(40).toString("base64") }];
    const first = openValues(d, "user-a", encryption, secrets, "passphrase");
    await expect(openValues(d, "user-a", encryption, secrets, "passphrase")).rejects.toSatisfy(isBusy);
    // The first goes on to derive, and its sealed value (zeros) does not open.
    await expect(first).rejects.toThrow(/secret 'A': the passphrase does not open its value/);
  });

  it("answers busy as 429 with Retry-After and a JSON message", async () => {
    const app = Fastify();
    installErrorHandling(app);
    app.post("/import", () => {
      throw new DomainError("busy", "too many imports of secret values are in progress; retry shortly");
    });
    try {
      const res = await app.inject({ method: "POST", url: "/import", payload: {} });
      expect(res.statusCode).toBe(429);
      expect(res.headers["retry-after"]).toBe("1");
      expect(res.json()).toEqual({ message: "too many imports of secret values are in progress; retry shortly" });
    } finally {
      await app.close();
    }
  });
});

describe("exports", () => {
  it("give one account one export at a time and run at most two at once, eight in all", async () => {
    const turns = exportTurns();
    const g = gate();
    const first = turns.run("user-a", g.derive);
    await expect(turns.run("user-a", g.derive)).rejects.toThrow("an export is already in progress for this account; retry when it ends");
    const others = ["u2", "u3", "u4", "u5", "u6", "u7", "u8"].map((u) => turns.run(u, g.derive));
    await expect(turns.run("u9", g.derive)).rejects.toThrow("too many exports are in progress; retry shortly");
    expect(EXPORT_TURNS).toEqual({ concurrency: 2, maxQueued: 8 });
    for (let i = 0; i < 8; i++) {
      await until(() => g.started() > 0);
      g.openNext();
    }
    await expect(Promise.all([first, ...others])).resolves.toHaveLength(8);
    expect(g.most()).toBe(2);
  });
});

/** Waits for a condition the derivations reach within a few turns of the event loop. */
async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !ready(); i++) await new Promise<void>((r) => setImmediate(r));
  expect(ready()).toBe(true);
}
