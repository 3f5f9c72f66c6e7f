import { describe, expect, it } from "vitest";
import {
  controlLine,
  exitedLine,
  failureOutcome,
  goneLine,
  inputLine,
  isFailureOf,
  inputProtocol,
  parseInputLine,
  parseOutputLine,
  readyLine,
  replyMessage,
  requestLine,
  resultLine,
  workerProtocol,
} from "../../sandbox/deno/protocol.js";

// The one definition of the lines between the supervisor, the runner and the
// workers: what one side writes, the other reads back unchanged.
const strip = (line: string) => (line.endsWith("\n") ? line.slice(0, -1) : line);

describe("the Node–Deno protocol", () => {
  it("reads back every line the runner and the workers write", () => {
    expect(parseOutputLine(strip(readyLine(7, 41)))).toEqual({ type: "ready", worker: 7, threadId: 41 });
    expect(parseOutputLine(strip(goneLine(7, "memory")))).toEqual({ type: "gone", worker: 7, reason: "memory" });
    expect(parseOutputLine(strip(exitedLine(7)))).toEqual({ type: "exited", worker: 7 });
    const outcome = 'R{"body":"b2s="}';
    expect(parseOutputLine(strip(resultLine(12, outcome, 'T["a","b"]')))).toEqual({ type: "result", exec: 12, outcome, logs: 'T["a","b"]' });
    const call = JSON.stringify({ id: 1, op: "proxy", url: "https://example.com/\t" });
    expect(parseOutputLine(strip(requestLine(12, call)))).toEqual({ type: "request", exec: 12, json: call });
  });

  it("refuses a line outside the protocol", () => {
    expect(parseOutputLine("hello")).toBeUndefined();
    expect(parseOutputLine("")).toBeUndefined();
  });

  it("reads back what the supervisor sends", () => {
    const reply = replyMessage(3, '{"status":200}');
    expect(parseInputLine(strip(inputLine(5, 1500, reply)))).toEqual({ worker: 5, timeoutMs: 1500, json: reply });
    expect(JSON.parse(reply)).toEqual({ t: "reply", id: 3, data: '{"status":200}' });
    expect(parseInputLine(strip(controlLine({ t: "spawn", w: 9, heapMb: 32, headroomMb: 16, shareMb: 10 })))).toEqual({
      control: { t: "spawn", w: 9, heapMb: 32, headroomMb: 16, shareMb: 10 },
    });
    expect(parseInputLine(strip(controlLine({ t: "retire", w: 9 })))).toEqual({ control: { t: "retire", w: 9 } });
  });

  it("tells a failure's kind from the outcome alone", () => {
    const memory = failureOutcome("memory_limit", "the script exceeded its memory limit");
    expect(isFailureOf(memory, "memory_limit")).toBe(true);
    expect(isFailureOf(memory, "time_limit")).toBe(false);
    expect(isFailureOf('R{"kind":"memory_limit"}', "memory_limit")).toBe(false);
    expect(JSON.parse(memory.slice(1))).toEqual({ kind: "memory_limit", message: "the script exceeded its memory limit" });
  });

  it("gives the worker functions that stand alone (the runner passes their source)", () => {
    // Rebuilt from source with nothing in scope, as in a worker.
    const rebuilt = new Function(`return (${workerProtocol.toString()})();`)() as ReturnType<typeof workerProtocol>;
    expect(rebuilt.resultLine(1, "R{}", "F[]")).toBe(resultLine(1, "R{}", "F[]"));
    expect(rebuilt.failureOutcome("time_limit", "x")).toBe(failureOutcome("time_limit", "x"));
    expect(rebuilt.parseMessage('{"t":"reply","id":1,"data":""}')).toEqual({ t: "reply", id: 1, data: "" });
  });

  it("gives the input thread a line reader that stands alone (the runner passes its source)", () => {
    const rebuilt = new Function(`return (${inputProtocol.toString()})();`)() as ReturnType<typeof inputProtocol>;
    expect(rebuilt.parseInputLine(strip(inputLine(5, 1500, '{"t":"reply"}')))).toEqual({ worker: 5, timeoutMs: 1500, json: '{"t":"reply"}' });
    expect(rebuilt.parseInputLine(strip(controlLine({ t: "retire", w: 9 })))).toEqual({ control: { t: "retire", w: 9 } });
  });
});
