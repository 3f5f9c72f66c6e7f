// The scheduling switch (sandbox/pool/scheduling.ts) moving a real Deno
// runner's threads between SCHED_BATCH and the normal policy, read back from
// /proc. The pool's side, telling it when users contend, is in
// test/security/one-user-floods-the-sandbox.test.ts.
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../common/log.js";
import type { DenoProcess } from "../../sandbox/pool/deno-process.js";
import { batchLauncher, SchedulingSwitch, type DenoScheduling } from "../../sandbox/pool/scheduling.js";
import { startRunner } from "../helpers/deno-runner.js";
import { threadsOf } from "../helpers/threads.js";
import { until } from "../helpers/wait.js";

const log = createLogger("scheduling-test", "silent");
// sched(7)'s numbers.
const NORMAL = 0;
const BATCH = 3;

let deno: DenoProcess | undefined;
let scheduling: SchedulingSwitch | undefined;
afterEach(async () => {
  scheduling?.stop();
  await deno?.stop();
  deno = scheduling = undefined;
});

/** A runner with one worker ready, started under what `setting` starts a process under. */
async function started(setting: DenoScheduling, batchAfterMs = 100) {
  let pid: number | undefined;
  scheduling = new SchedulingSwitch(setting, () => (pid === undefined ? [] : [pid]), log, batchAfterMs);
  const runner = startRunner(scheduling.policy);
  deno = runner.deno;
  pid = deno.pid!;
  await runner.worker(1);
  return { switcher: scheduling, policies: () => new Set(threadsOf(pid!).map((t) => t.policy)) };
}

describe("the Deno processes' scheduling policy", () => {
  it("can be SCHED_BATCH on this machine (util-linux chrt)", () => {
    expect(batchLauncher()).toMatch(/\/chrt$/);
  });

  it("auto: SCHED_BATCH at first, the normal policy once users contend, SCHED_BATCH again after a while without", async () => {
    const { switcher, policies } = await started("auto");
    expect(switcher.policy).toBe("batch");
    expect(policies()).toEqual(new Set([BATCH]));

    switcher.contended();
    expect(switcher.policy).toBe("normal");
    await switcher.settled();
    expect(policies()).toEqual(new Set([NORMAL]));

    // Contention again before the wait is over restarts it.
    switcher.uncontended();
    switcher.contended();
    switcher.uncontended();
    expect(switcher.policy).toBe("normal");
    expect(await until(policies, (p) => p.size === 1 && p.has(BATCH))).toEqual(new Set([BATCH]));
    expect(switcher.policy).toBe("batch");
  });

  it.each([
    ["batch", BATCH],
    ["normal", NORMAL],
  ] as const)("%s: stays there whether users contend or not", async (setting, policy) => {
    const { switcher, policies } = await started(setting, 0);
    switcher.contended();
    switcher.uncontended();
    await switcher.settled();
    expect(policies()).toEqual(new Set([policy]));
  });
});
