import crypto from "node:crypto";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RewrapResponse, VerifyResponse } from "../../proto/gen/secutils/broker/v1/broker.js";
import { brokerAs, must, rpc } from "../helpers/broker-client.js";
import { call, createSecret, newUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { until } from "../helpers/wait.js";
import { createResponder, hitUrl } from "../helpers/webhooks.js";

// A master key rotation while users keep writing and reading secrets: add a
// new active key and reload the broker's ring (SIGHUP), rewrap every data key
// online, drop the old key and reload again. No request may fail or see a
// wrong value at any point, and at the end every row is on the new key.

let stack: Stack;
const key = () => crypto.randomBytes(32).toString("base64");

beforeAll(async () => {
  // Without the render cache every templated hit goes to the broker.
  stack = await Stack.start({ gatewayEnv: { TEMPLATE_CACHE_MAX_BYTES: "0" } });
});
afterAll(() => stack?.stop());

const writeRing = (ring: { active: string; keys: Record<string, string> }) => fs.writeFileSync(stack.dev.masterKeysFile, JSON.stringify(ring), { mode: 0o600 });

/** The broker's verdicts on ring reloads so far, in order. */
const verdicts = () => [...stack.broker.output.matchAll(/"msg":"master key ring (reloaded|not reloaded)/g)].map((m) => m[1]);

/** Sends SIGHUP and waits for the broker to log its verdict on this reload. */
async function reload(verdict: "reloaded" | "not reloaded"): Promise<void> {
  const before = verdicts().length;
  stack.broker.child.kill("SIGHUP");
  const after = await until(verdicts, (v) => v.length > before);
  expect(after.slice(before)).toEqual([verdict]);
}

describe("master key rotation under load", () => {
  it("reloads the ring and rewraps every data key with zero failed requests", async () => {
    const original = JSON.parse(fs.readFileSync(stack.dev.masterKeysFile, "utf8")) as { active: string; keys: Record<string, string> };
    const user = await newUser(stack);
    const failures: string[] = [];
    let running = true;
    let operations = 0;
    // Each step waits for some load to happen, not for time to pass: on a slow or busy machine
    // fixed pauses let the rotation finish with hardly any requests around it.
    const waiting: { n: number; resolve: () => void }[] = [];
    const progressed = () => {
      for (const w of waiting.splice(0)) if (operations >= w.n) w.resolve();
      else waiting.push(w);
    };
    const afterOperations = (more: number) => new Promise<void>((resolve) => {
      waiting.push({ n: operations + more, resolve });
      progressed();
    });

    // Each worker owns a secret, a scripted and a templated responder, and checks every answer.
    const worker = async (w: number) => {
      const name = `W${w}`;
      let value = `w${w}-0`;
      const id = await createSecret(stack, user, name, value);
      const scripted = await createResponder(stack, user, {
        location: { pathType: "=", path: `/s${w}` },
        settings: { script: `({ body: context.secrets.${name} })`, secrets: { selected: [id] } },
      });
      const templated = await createResponder(stack, user, {
        location: { pathType: "=", path: `/t${w}` },
        settings: { body: `\${secrets.${name}}`, secrets: { selected: [id] } },
      });
      for (let n = 1; running; n++) {
        const check = (what: string, ok: boolean, detail: string) => ok || failures.push(`${what}: ${detail}`);
        const put = await call(stack, "PUT", `/api/user/secrets/${id}`, { auth: user.auth, json: { value: `w${w}-${n}` } });
        check("rotate", put.status === 200, `${put.status} ${put.text}`);
        if (put.status === 200) value = `w${w}-${n}`;
        for (const url of [scripted.url, templated.url]) {
          const a = await hitUrl(stack, url);
          check("read", a.status === 200 && a.text === value, `${a.status} ${a.text.slice(0, 80)} (expected ${value})`);
        }
        if (n % 4 === 0) {
          const created = await call(stack, "POST", "/api/user/secrets", { auth: user.auth, json: { name: `C${w}_${n}`, value: "created" } });
          check("create", created.status === 201, `${created.status} ${created.text}`);
          if (created.status === 201) {
            const del = await call(stack, "DELETE", `/api/user/secrets/${created.body.id}`, { auth: user.auth });
            check("delete", del.status === 204, `${del.status}`);
          }
        }
        operations++;
        progressed();
      }
    };
    const workers = Array.from({ length: 4 }, (_, w) => worker(w));
    await afterOperations(6);
    // 1. A new active key beside the old one.
    const k2 = key();
    writeRing({ active: "k2", keys: { ...original.keys, k2 } });
    await reload("reloaded");
    await afterOperations(4);
    // 2. Online rewrap, still under load.
    const internal = brokerAs(stack, "internal");
    const rewrapped = await must(rpc<RewrapResponse>((m, o, cb) => internal.rewrap({ batchSize: 2 }, m, o, cb)));
    expect(rewrapped.failedIds).toEqual([]);
    expect(rewrapped.activeKeyId).toBe("k2");
    await afterOperations(4);
    // 3. A ring that gets k2 wrong is refused; the running ring stays.
    writeRing({ active: "k2", keys: { ...original.keys, k2: key() } });
    await reload("not reloaded");
    // 4. The old key leaves the ring.
    writeRing({ active: "k2", keys: { k2 } });
    await reload("reloaded");
    await afterOperations(8);
    running = false;
    await Promise.all(workers);

    expect(failures).toEqual([]);
    expect(operations).toBeGreaterThan(20);
    const verified = await must(rpc<VerifyResponse>((m, o, cb) => internal.verify({}, m, o, cb)));
    internal.close();
    expect(verified.failedIds).toEqual([]);
    expect(Object.keys(verified.rowsByKey)).toEqual(["k2"]);
    expect(verified.checked).toBe(4);
  });
});
