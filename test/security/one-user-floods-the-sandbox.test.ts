import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { execute, randomUser, sandboxAs } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";

// One user starts 1,000 executions at once (the default queue holds 1,000
// behind the user's 4 workers). All of them run, and another user's
// executions started in the middle of the flood are not held behind it.

let stack: Stack;
let sandbox: ScriptRunnerClient;

beforeAll(async () => {
  stack = await Stack.start();
  sandbox = sandboxAs(stack);
});
afterAll(async () => {
  sandbox?.close();
  await stack?.stop();
});

describe("1,000 concurrent executions from one user", () => {
  it("all complete, and another user's executions finish while the flood is still running", async () => {
    const flooder = randomUser();
    const bystander = randomUser();
    let floodLeft = 1000;
    const finishedWhileFlooding: boolean[] = [];
    const flood = Array.from({ length: 1000 }, (_, i) =>
      execute(sandbox, { userId: flooder, script: `({ body: "${i}" })` }, 120_000).then((o) => {
        floodLeft--;
        return o;
      }),
    );
    const others = Array.from({ length: 5 }, (_, i) =>
      execute(sandbox, { userId: bystander, script: `({ body: "other ${i}" })` }).then((o) => {
        finishedWhileFlooding.push(floodLeft > 0);
        return o;
      }),
    );
    const results = await Promise.all(flood);
    const bystanders = await Promise.all(others);

    expect(results.filter((o) => !o.ok)).toEqual([]);
    results.forEach((o, i) => {
      expect(o.ok && o.value.error).toBeUndefined();
      expect(o.ok && Buffer.from(o.value.responder!.body!).toString()).toBe(String(i));
    });
    bystanders.forEach((o, i) => expect(o.ok && Buffer.from(o.value.responder!.body!).toString()).toBe(`other ${i}`));
    expect(finishedWhileFlooding).toEqual([true, true, true, true, true]);
  });
});
