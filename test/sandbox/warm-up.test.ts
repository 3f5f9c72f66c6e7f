import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bodyOf, denoPids, poolOf, randomUser, sandboxAs } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";
import { until } from "../helpers/wait.js";

// `npm start` is ready sooner when the sandbox starts one Deno process and one
// spare worker, and the rest of its pool after the first lease or a delay
// (SANDBOX_WARMUP_DELAY_MS): on two cores the rest took CPU from the broker
// and the gateway starting beside it.
let stack: Stack;

const pool = () => poolOf(stack);

beforeAll(async () => {
  // A delay no test waits out: here the first lease starts the rest.
  stack = await Stack.start({ sandboxEnv: { SANDBOX_PROCESSES: "2", SANDBOX_SPARE_WORKERS: "4", SANDBOX_WARMUP_DELAY_MS: "60000" } });
});
afterAll(async () => {
  await stack?.stop();
});

describe("the sandbox pool at start-up", () => {
  it("starts one process and one spare, and the rest with the first lease", async () => {
    expect(denoPids(stack)).toHaveLength(1);
    expect(await pool()).toMatchObject({ processes: 1, workers: 1, spare: 1 });
    expect(stack.sandbox.output).not.toMatch(/sandbox pool warming up/);

    expect(await bodyOf(sandboxAs(stack), { userId: randomUser(), script: `({ body: "first" })` })).toBe("first");
    await stack.sandbox.waitFor(/"processes":2,"spareWorkers":4,.*"msg":"sandbox pool warming up"/);
    expect(denoPids(stack)).toHaveLength(2);
    // The lease keeps its worker; four spares are started beside it.
    expect(await until(pool, (p) => p.spare === 4)).toMatchObject({ processes: 2, workers: 5, spare: 4, leased: 1 });
  });

  it("starts the rest after the delay when no lease comes", async () => {
    await stack.stopSandbox();
    await stack.startSandbox({ SANDBOX_WARMUP_DELAY_MS: "300" });
    expect(denoPids(stack)).toHaveLength(1);
    await stack.sandbox.waitFor(/"msg":"sandbox pool warming up"/);
    expect(denoPids(stack)).toHaveLength(2);
    expect(await until(pool, (p) => p.spare === 4)).toMatchObject({ processes: 2, workers: 4, spare: 4 });
  });
});
