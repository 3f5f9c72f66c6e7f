// @ts-check
// The messages between the sandbox's Node supervisor (pool/deno-process.ts,
// executions/service.ts), a Deno process's runner (runner.js) and its
// workers (worker.js), defined once for both sides. Plain JavaScript with
// JSDoc types, so that Deno loads it as it is and TypeScript checks it.
//
// Over the process's pipes, one line each (JSON escapes every newline):
//   stdin   `<worker>\t<timeout ms>\t<json>`  an exec for a worker;
//           `<worker>\t0\t<piece>`           a piece of a reply to its host call (below);
//           `0\t0\t<json>`                   control: spawn or retire a worker.
//   stdout  `W\t<worker>\t<thread id>`        the worker is ready;
//           `D\t<worker>\t<reason>`           the worker is gone (time, memory, crashed);
//           `X\t<worker>`                     its thread has ended;
//           `R\t<exec>\t<outcome>\t<logs>`     an execution's result (built by the worker);
//           `P\t<exec>\t<json>`               a call to the host (op_proxy_request, page calls);
//           an empty line                    skipped (output.js: the end of a line a worker ended mid-write).
// An outcome is `R<json>` (the script's result) or `E{"kind","message"}`
// (kinds named as in common/script-errors.ts); logs are `F[...]` or, when cut
// at their limit, `T[...]`. The realm (realm.js) writes its outcomes and host
// calls with the built-ins it captured, in these same formats.

/** @typedef {"responder" | "configurator" | "extractor" | "page"} RealmKind */

/**
 * One execution, sent to a leased worker.
 * @typedef {object} ExecMessage
 * @property {"exec"} t
 * @property {number} id
 * @property {RealmKind} kind
 * @property {string} script
 * @property {string} context JSON, checked by the service
 * @property {string} [body64] a responder's request body, base64
 * @property {string} secrets JSON object of released secrets
 * @property {number} timeoutMs
 * @property {number} maxResultBytes
 * @property {number} maxLogBytes
 * @property {number} bufferBytes what the script's buffers may hold in all
 */

/**
 * A piece of the host's answer to a `P` line, written
 * `r<exec>\t<reply>\t<more>\t<text>`: <more> is 1 while further pieces of
 * the same reply follow. The worker joins the texts of one reply in order and
 * hands the JSON they make to the realm. The text is JSON's own, not escaped
 * again: it holds no newline.
 *
 * Why pieces: one process's stdin carries every worker's lines, and a reply
 * may carry an upstream answer of several MiB. Sent whole, it held the
 * supervisor's event loop, the pipe and the runner's input thread while it
 * passed, and every other user's executions on that process waited behind it.
 * @typedef {object} ReplyPiece
 * @property {"piece"} t
 * @property {number} id the execution
 * @property {number} reply the reply's number, unique within its process
 * @property {boolean} last
 * @property {string} text
 */

/** The most text one piece of a reply carries (~one line's worth of work for the input thread). */
export const REPLY_PIECE_CHARS = 256 * 1024;

/** @typedef {{ t: "spawn", w: number, heapMb: number, headroomMb: number, shareMb: number } | { t: "retire", w: number }} ControlMessage */

/**
 * What a Deno process reports, one event per stdout line.
 * @typedef {{ type: "ready", worker: number, threadId: number }
 *   | { type: "gone", worker: number, reason: string }
 *   | { type: "exited", worker: number }
 *   | { type: "result", exec: number, outcome: string, logs: string }
 *   | { type: "request", exec: number, json: string }} ProcessEvent
 */

/** @param {ExecMessage} m */
export function execMessage(m) {
  return JSON.stringify(m);
}

/** One piece of a reply (ReplyPiece). @param {number} id @param {number} reply @param {boolean} last @param {string} text */
export function replyPiece(id, reply, last, text) {
  return `r${id}\t${reply}\t${last ? 0 : 1}\t${text}`;
}

/**
 * The pieces that carry `parts` joined, in order, each at most `pieceChars`
 * long (the last may be empty). Lazy: a part is taken when the pieces before
 * it have been.
 * @param {number} id @param {number} reply @param {Iterable<string>} parts
 * @returns {Generator<string, void, undefined>}
 */
export function* replyPieces(id, reply, parts, pieceChars = REPLY_PIECE_CHARS) {
  let piece = "";
  for (const part of parts) {
    let at = 0;
    while (at < part.length) {
      let end = Math.min(part.length, at + pieceChars - piece.length);
      // Never between the halves of a surrogate pair: a lone half does not survive the pipe's UTF-8.
      // (A piece of one character could only ever hold one half.)
      if (end < part.length && isHighSurrogate(part.charCodeAt(end - 1)) && (end - 1 > at || piece.length > 0)) end--;
      if (end === at) {
        yield replyPiece(id, reply, false, piece);
        piece = "";
        continue;
      }
      piece += at === 0 && end === part.length ? part : part.slice(at, end);
      at = end;
    }
  }
  yield replyPiece(id, reply, true, piece);
}

/** @param {number} code */
function isHighSurrogate(code) {
  return code >= 0xd800 && code <= 0xdbff;
}

/** A line for a worker; `timeoutMs` > 0 starts the runner's watch over it. */
export function inputLine(/** @type {number} */ worker, /** @type {number} */ timeoutMs, /** @type {string} */ json) {
  return `${worker}\t${timeoutMs}\t${json}\n`;
}

/** @param {ControlMessage} control */
export function controlLine(control) {
  return inputLine(0, 0, JSON.stringify(control));
}

/**
 * The reading of stdin lines, done by the runner's input thread (reader.js).
 * It runs from this function's source, as workerProtocol() does, so it
 * holds no reference outside itself.
 */
export function inputProtocol() {
  return {
    /**
     * One stdin line, without its newline.
     * @param {string} line
     * @returns {{ control: ControlMessage } | { worker: number, timeoutMs: number, json: string }}
     */
    parseInputLine(line) {
      const first = line.indexOf("\t");
      const second = line.indexOf("\t", first + 1);
      const worker = Number(line.slice(0, first));
      const json = line.slice(second + 1);
      if (worker === 0) return { control: JSON.parse(json) };
      return { worker, timeoutMs: Number(line.slice(first + 1, second)), json };
    },
  };
}

export const { parseInputLine } = inputProtocol();

/** @param {number} worker @param {number} threadId */
export const readyLine = (worker, threadId) => `W\t${worker}\t${threadId}\n`;
/** @param {number} worker @param {"time" | "memory" | "crashed"} reason */
export const goneLine = (worker, reason) => `D\t${worker}\t${reason}\n`;
/** @param {number} worker */
export const exitedLine = (worker) => `X\t${worker}\n`;

/**
 * The lines and outcomes a worker builds. The worker runs from its
 * function's source (runner.js), where no module can be imported, so this
 * function holds no reference outside itself: the runner hands its source to
 * every worker, and everything else uses the functions it returns.
 */
export function workerProtocol() {
  return {
    /** @param {number} exec @param {string} outcome @param {string} logs */
    resultLine: (exec, outcome, logs) => `R\t${exec}\t${outcome}\t${logs}\n`,
    /** @param {number} exec @param {string} json */
    requestLine: (exec, json) => `P\t${exec}\t${json}\n`,
    /** @param {string} kind @param {string} message */
    failureOutcome: (kind, message) => "E" + JSON.stringify({ kind, message }),
    /** @param {string} raw @returns {ExecMessage | ReplyPiece} */
    parseMessage(raw) {
      // "r": a reply piece (replyPiece); an exec is JSON.
      if (raw.charCodeAt(0) !== 114) return JSON.parse(raw);
      const a = raw.indexOf("\t");
      const b = raw.indexOf("\t", a + 1);
      const c = raw.indexOf("\t", b + 1);
      return { t: "piece", id: Number(raw.slice(1, a)), reply: Number(raw.slice(a + 1, b)), last: raw.slice(b + 1, c) === "0", text: raw.slice(c + 1) };
    },
  };
}

export const { resultLine, requestLine, failureOutcome } = workerProtocol();

/** Whether an outcome is the failure of this kind (as failureOutcome and the realm write it). */
export function isFailureOf(/** @type {string} */ outcome, /** @type {string} */ kind) {
  return outcome.startsWith(`E{"kind":${JSON.stringify(kind)}`);
}

/**
 * The supervisor's reading of a stdout line; undefined for a line outside
 * the protocol (the process is then not to be trusted).
 * @param {string} line without its newline
 * @returns {ProcessEvent | undefined}
 */
export function parseOutputLine(line) {
  const fields = line.split("\t");
  switch (fields[0]) {
    case "W":
      return { type: "ready", worker: Number(fields[1]), threadId: Number(fields[2]) };
    case "D":
      return { type: "gone", worker: Number(fields[1]), reason: fields[2] ?? "crashed" };
    case "X":
      return { type: "exited", worker: Number(fields[1]) };
    case "R":
      return { type: "result", exec: Number(fields[1]), outcome: fields[2] ?? "", logs: fields[3] ?? "F[]" };
    case "P":
      return { type: "request", exec: Number(fields[1]), json: fields.slice(2).join("\t") };
    default:
      return undefined;
  }
}
