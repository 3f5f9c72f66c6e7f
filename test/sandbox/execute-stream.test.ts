import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExecuteStreamRequest, ExecuteStreamResponse, ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { HeldUpstream } from "../helpers/held-upstream.js";
import { answering, busyThen, responderRequest as request, sandboxAs } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";

// ExecuteStream: many executions over one call, against a real sandbox. The
// gateway sends responders' scripts this way (gateway/sandbox/streams.ts)
// and counts on what is shown here: "started" before each answer, answers by
// number as they finish, Execute's failures as messages, and a stop of the
// sandbox that finishes what it took and refuses, untaken, what it did not.

let stack: Stack;
let sandbox: ScriptRunnerClient;
let upstream: HeldUpstream;

beforeAll(async () => {
  upstream = await HeldUpstream.start();
  stack = await Stack.start({ sandboxEnv: { OUTBOUND_ALLOW_HOSTS: upstream.host } });
  sandbox = sandboxAs(stack);
});
afterAll(async () => {
  await stack?.stop();
  upstream?.close();
});


/** One stream, with every message it brings and how it ended. */
function open(client = sandbox) {
  const call = client.executeStream();
  const events: ExecuteStreamResponse[] = [];
  const waiters: Array<() => void> = [];
  call.on("data", (m: ExecuteStreamResponse) => {
    events.push(m);
    for (const w of waiters.splice(0)) w();
  });
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.on("error", () => {});
  const until = (done: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => (done() ? resolve() : waiters.push(check));
      check();
    });
  const answerOf = (id: number) => events.find((e) => e.id === id && !e.started);
  return {
    send: (m: ExecuteStreamRequest) => call.write(m),
    end: () => call.end(),
    events,
    ended,
    answered: (id: number) => until(() => answerOf(id) !== undefined).then(() => answerOf(id)!),
    started: (id: number) => until(() => events.some((e) => e.id === id && e.started)),
    bodyOf: (id: number) => {
      const body = answerOf(id)?.result?.responder?.body;
      return body === undefined ? undefined : Buffer.from(body).toString();
    },
  };
}

describe("ExecuteStream", () => {
  it("answers each execution by its number as it finishes, each after its started", async () => {
    const s = open();
    // 7 waits on the upstream until 8 has answered: the order cannot depend on the machine's speed.
    s.send({ id: 7, execute: request(upstream.callsThenAnswers("slow")) });
    await Promise.all([s.started(7), upstream.holding()]);
    s.send({ id: 8, execute: request(answering("fast")) });
    await s.answered(8);
    upstream.release();
    await s.answered(7);
    const order = s.events.map((e) => `${e.id}:${e.started ? "started" : "answer"}`);
    expect(order).toEqual(["7:started", "8:started", "8:answer", "7:answer"]);
    expect(s.bodyOf(7)).toBe("slow");
    expect(s.bodyOf(8)).toBe("fast");
    s.end();
    expect((await s.ended).code).toBe(grpc.status.OK);
  });

  it("carries Execute's failure as a message, and the stream goes on", async () => {
    const s = open();
    s.send({ id: 1, execute: { ...request(answering("x")), userId: "alice" } });
    expect((await s.answered(1)).failure).toEqual({ code: grpc.status.INVALID_ARGUMENT, details: "user_id must be a UUID" });
    s.send({ id: 2, execute: request(answering("after")) });
    await s.answered(2);
    expect(s.bodyOf(2)).toBe("after");
    s.end();
    expect((await s.ended).code).toBe(grpc.status.OK);
  });

  it("a half-closed stream answers what it took, then ends", async () => {
    const s = open();
    s.send({ id: 1, execute: request(busyThen(300, "taken")) });
    await s.started(1);
    s.end();
    const status = await s.ended;
    expect(s.bodyOf(1)).toBe("taken");
    expect(status.code).toBe(grpc.status.OK);
  });

  it.each(["broker", "internal"])("the %s identity may not open it (PERMISSION_DENIED)", async (identity) => {
    const client = sandboxAs(stack, identity);
    try {
      const s = open(client);
      s.send({ id: 1, execute: request(answering("x")) });
      const status = await s.ended;
      expect({ code: status.code, details: status.details }).toEqual({
        code: grpc.status.PERMISSION_DENIED,
        details: `identity ${identity} may not call executeStream`,
      });
      expect(s.events).toEqual([]);
    } finally {
      client.close();
    }
  });

  // Last: it stops the sandbox.
  it("while the sandbox stops: the running execution answers, a new one is refused untaken, then the stream ends", async () => {
    const s = open();
    // 1 waits on the upstream until the stop has reached the stream: it is surely still running then.
    s.send({ id: 1, execute: request(upstream.callsThenAnswers("finished")) });
    await upstream.holding();
    const stopped = stack.stopSandbox();
    // Until the stop reaches the stream, new executions still run; the first refused one shows it has.
    let refused: ExecuteStreamResponse | undefined;
    for (let id = 2; refused === undefined; id++) {
      s.send({ id, execute: request(answering("meanwhile")) });
      const answer = await s.answered(id);
      if (answer.failure) refused = answer;
    }
    expect(refused.failure).toEqual({ code: grpc.status.UNAVAILABLE, details: "the sandbox is stopping" });
    expect(s.events.some((e) => e.id === refused!.id && e.started)).toBe(false);
    expect(s.bodyOf(1)).toBeUndefined();
    upstream.release();
    const status = await s.ended;
    expect(s.bodyOf(1)).toBe("finished");
    expect(status.code).toBe(grpc.status.OK);
    await stopped;
  });
});
