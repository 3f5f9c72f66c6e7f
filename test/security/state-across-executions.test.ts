import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { bodyOf, randomUser, sandboxAs } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";

// Nothing of one execution is visible to the next: each gets a fresh realm,
// whether it runs on the same (leased) worker or on another user's.
let stack: Stack;
let sandbox: ScriptRunnerClient;

beforeAll(async () => {
  stack = await Stack.start();
  sandbox = sandboxAs(stack);
});
afterAll(() => stack?.stop());

const POLLUTE = `
  globalThis.leftBehind = "global";
  var declared = "var";
  Object.prototype.polluted = "object";
  Array.prototype.pollutedArray = "array";
  Object.defineProperty(Object.prototype, "getterTrap", { get() { return "getter"; }, configurable: true });
  JSON.parse = () => "patched";
  Deno.core.extra = 1;
  ({ body: "polluted" })`;

const INSPECT = `({ body: [
  typeof leftBehind, typeof declared, typeof ({}).polluted, typeof [].pollutedArray, typeof ({}).getterTrap,
  JSON.parse('"clean"'), Object.isFrozen(Deno.core), typeof context.secrets.A,
].join(",") })`;
const CLEAN = "undefined,undefined,undefined,undefined,undefined,clean,true,undefined";

describe("a fresh realm per execution", () => {
  it("the script itself sees its own changes", async () => {
    const user = randomUser();
    const body = await bodyOf(sandbox, {
      userId: user,
      script: POLLUTE.replace(`({ body: "polluted" })`, "") + `({ body: typeof leftBehind + typeof ({}).polluted + JSON.parse('1') })`,
    });
    expect(body).toBe("stringstringpatched");
  });

  it("the same user's next execution (same leased worker) sees none of them", async () => {
    const user = randomUser();
    expect(await bodyOf(sandbox, { userId: user, script: POLLUTE })).toBe("polluted");
    for (let i = 0; i < 3; i++) expect(await bodyOf(sandbox, { userId: user, script: INSPECT })).toBe(CLEAN);
  });

  it("another user's execution sees none of them", async () => {
    const [a, b] = [randomUser(), randomUser()];
    expect(await bodyOf(sandbox, { userId: a, script: POLLUTE })).toBe("polluted");
    expect(await bodyOf(sandbox, { userId: b, script: INSPECT })).toBe(CLEAN);
  });

  it("executions in flight at the same time do not see each other", async () => {
    const user = randomUser();
    // Each writes its own marker and reads it back after yielding; a shared
    // realm would show another execution's marker.
    const runs = Array.from({ length: 12 }, (_, i) =>
      bodyOf(sandbox, {
        userId: i % 2 === 0 ? user : randomUser(),
        script: `(async () => {
          globalThis.marker = ${i};
          for (let k = 0; k < 50; k++) await null;
          return { body: String(globalThis.marker) + ":" + Object.keys(globalThis).filter((k) => k === "marker").length };
        })()`,
      }),
    );
    expect(await Promise.all(runs)).toEqual(Array.from({ length: 12 }, (_, i) => `${i}:1`));
  });

  it("a patched built-in in one execution does not reach the prelude of the next", async () => {
    const user = randomUser();
    await bodyOf(sandbox, {
      userId: user,
      script: `String.fromCharCode = () => "X"; Array.isArray = () => false; ({ body: [1, 2, 3] })`,
    });
    expect(await bodyOf(sandbox, { userId: user, script: `({ body: [104, 105] })` })).toBe("hi");
  });
});
