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
  replyPiece,
  replyPieces,
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
    const piece = replyPiece(3, 8, true, '{"status":200,"h":"a\\tb"}');
    expect(parseInputLine(strip(inputLine(5, 0, piece)))).toEqual({ worker: 5, timeoutMs: 0, json: piece });
    expect(workerProtocol().parseMessage(piece)).toEqual({ t: "piece", id: 3, reply: 8, last: true, text: '{"status":200,"h":"a\\tb"}' });
    expect(parseInputLine(strip(controlLine({ t: "spawn", w: 9, heapMb: 32, headroomMb: 16, shareMb: 10 })))).toEqual({
      control: { t: "spawn", w: 9, heapMb: 32, headroomMb: 16, shareMb: 10 },
    });
    expect(parseInputLine(strip(controlLine({ t: "retire", w: 9 })))).toEqual({ control: { t: "retire", w: 9 } });
  });

  it("cuts a reply into pieces the worker joins back, never within a character", () => {
    const { parseMessage } = workerProtocol();
    const join = (pieces: string[]) => {
      const read = pieces.map((p) => parseMessage(p));
      for (const m of read) expect(m).toMatchObject({ t: "piece", id: 4, reply: 2 });
      expect(read.map((m) => ("last" in m ? m.last : undefined))).toEqual(read.map((_, i) => i === read.length - 1));
      return read.map((m) => ("text" in m ? m.text : "")).join("");
    };
    // Parts of every size around the piece's; a surrogate pair straddling each boundary it can.
    const parts = ['{"body64":"', "A".repeat(9), "😀".repeat(7), "B".repeat(25), '"}'];
    for (const size of [2, 3, 5, 8, 16, 1000]) {
      const pieces = [...replyPieces(4, 2, parts, size)];
      for (const p of pieces) {
        const text = p.slice(p.indexOf("\t", p.indexOf("\t", p.indexOf("\t") + 1) + 1) + 1);
        expect(text.length).toBeLessThanOrEqual(size);
        // Each piece survives UTF-8 on its own: no half of a pair at either end.
        expect(Buffer.from(text, "utf8").toString("utf8")).toBe(text);
      }
      expect(join(pieces)).toBe(parts.join(""));
      if (size === 1000) expect(pieces).toHaveLength(1);
    }
    expect(join([...replyPieces(4, 2, [])])).toBe("");
    // Lazy: a part is not asked for before the pieces ahead of it are taken.
    let asked = 0;
    const counted = (function* () {
      for (const p of ["x".repeat(10), "y".repeat(10)]) {
        asked++;
        yield p;
      }
    })();
    const lazy = replyPieces(4, 2, counted, 4);
    lazy.next();
    expect(asked).toBe(1);
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
    expect(rebuilt.parseMessage(replyPiece(1, 1, false, ""))).toEqual({ t: "piece", id: 1, reply: 1, last: false, text: "" });
    expect(rebuilt.parseMessage('{"t":"exec","id":1}')).toEqual({ t: "exec", id: 1 });
  });

  it("gives the input thread a line reader that stands alone (the runner passes its source)", () => {
    const rebuilt = new Function(`return (${inputProtocol.toString()})();`)() as ReturnType<typeof inputProtocol>;
    expect(rebuilt.parseInputLine(strip(inputLine(5, 1500, '{"t":"exec"}')))).toEqual({ worker: 5, timeoutMs: 1500, json: '{"t":"exec"}' });
    expect(rebuilt.parseInputLine(strip(controlLine({ t: "retire", w: 9 })))).toEqual({ control: { t: "retire", w: 9 } });
  });
});
