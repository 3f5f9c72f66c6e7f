import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxFailureOf } from "../../gateway/sandbox/calls.js";
import { ExecutionStreams, MAX_STREAMS, type ExecutionFailure } from "../../gateway/sandbox/streams.js";
import { INTERRUPTED_MESSAGE } from "../../common/script-errors.js";
import type { ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { HeldUpstream } from "../helpers/held-upstream.js";
import { answering, busyThen, responderRequest as request, sandboxAs } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";

// The gateway's execution streams (gateway/sandbox/streams.ts) against a real
// sandbox: answers matched to their executions under concurrency, a deadline
// that gives up on one run without harming the stream, a sandbox that
// stops, is away and comes back, and one killed under a run.

let stack: Stack;
let client: ScriptRunnerClient;
let upstream: HeldUpstream;

beforeAll(async () => {
  upstream = await HeldUpstream.start();
  stack = await Stack.start({ sandboxEnv: { OUTBOUND_ALLOW_HOSTS: upstream.host } });
  client = sandboxAs(stack);
});
afterAll(async () => {
  client?.close();
  await stack?.stop();
  upstream?.close();
});

const bodyOf = (r: { responder?: { body?: Uint8Array } }) => Buffer.from(r.responder?.body ?? []).toString();
const failureOf = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err as ExecutionFailure);

describe("execution streams", () => {
  it("matches every answer to its execution, with more in flight than streams", async () => {
    const streams = new ExecutionStreams(client);
    const n = MAX_STREAMS * 5;
    const bodies = await Promise.all(
      Array.from({ length: n }, (_, i) => streams.execute(request(i % 3 === 0 ? busyThen(50, `b${i}`) : answering(`b${i}`)), 30_000).then(bodyOf)),
    );
    expect(bodies).toEqual(Array.from({ length: n }, (_, i) => `b${i}`));
  });

  it("gives up on a run at its deadline, as started, and the next one is answered", async () => {
    const streams = new ExecutionStreams(client);
    // Held by the upstream, the run cannot end before its deadline; the deadline leaves a slow machine time to start it.
    const err = await failureOf(streams.execute(request(upstream.callsThenAnswers("late")), 2_000));
    expect(err).toMatchObject({ code: 4, started: true });
    upstream.release();
    expect(bodyOf(await streams.execute(request(answering("next")), 30_000))).toBe("next");
  });

  // Last: it stops the sandbox.
  it("a stopping sandbox finishes the run it took; away, it is unavailable; back, it answers again", async () => {
    const streams = new ExecutionStreams(client);
    const running = streams.execute(request(upstream.callsThenAnswers("finished")), 30_000);
    // Taken (it calls the upstream) before the stop begins; let go once the stop has.
    await upstream.holding();
    const stopped = stack.stopSandbox();
    await stack.sandbox.waitFor(/"msg":"sandbox stopping"/);
    upstream.release();
    await stopped;
    expect(bodyOf(await running)).toBe("finished");

    const away = await failureOf(streams.execute(request(answering("x")), 5_000));
    expect(away?.started).toBeUndefined();
    expect(sandboxFailureOf(away, "script")).toEqual({ kind: "unavailable", message: "the script sandbox is unavailable" });

    await stack.startSandbox();
    let back: string | undefined;
    for (let i = 0; i < 100 && back === undefined; i++) {
      back = await streams.execute(request(answering("back")), 5_000).then(bodyOf, () => undefined);
      if (back === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    expect(back).toBe("back");
  });

  it("a run whose sandbox process dies says it was interrupted", async () => {
    const streams = new ExecutionStreams(client);
    await streams.execute(request(answering("warm")), 30_000);
    const running = failureOf(streams.execute(request(upstream.callsThenAnswers("never")), 30_000));
    await upstream.holding();
    await stack.killSandbox();
    const err = await running;
    expect(err?.started).toBe(true);
    expect(sandboxFailureOf(err, "script")).toEqual({ kind: "unavailable", message: INTERRUPTED_MESSAGE });
    await stack.startSandbox();
  });
});
