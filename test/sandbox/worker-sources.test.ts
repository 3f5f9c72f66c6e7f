import { describe, expect, it } from "vitest";
import { stdoutLock } from "../../sandbox/deno/output.js";
import { inputProtocol, workerProtocol } from "../../sandbox/deno/protocol.js";
import { readerMain } from "../../sandbox/deno/reader.js";
import { REALM_PRELUDE_SOURCE } from "../../sandbox/deno/realm.js";
import { workerMain } from "../../sandbox/deno/worker.js";

// Every leased worker holds its own copies of these sources, compiled and as
// strings (the page builder is shared as bytes, and decoded for a page
// execution alone). One character outside Latin-1 (a "…" in a comment or a
// literal) makes V8 store the whole source at two bytes a character: the
// prelude's one ellipsis cost each leased worker 0.2-0.4 MiB of resident
// memory (`npm run bench -- sandbox`; issue 17's goal for it is 1 MiB over an
// empty worker). Write such characters as escapes (`"\u2026"`).
const SOURCES: Record<string, string> = {
  "the realm prelude (realm.js, realm/*.js, core-extras*)": REALM_PRELUDE_SOURCE,
  "the worker (worker.js)": workerMain.toString(),
  "the worker's protocol (protocol.js)": workerProtocol.toString(),
  "the stdout lock (output.js)": stdoutLock.toString(),
  "the input thread (reader.js)": readerMain.toString(),
  "the input thread's protocol (protocol.js)": inputProtocol.toString(),
};

describe("the sources the runner gives its workers", () => {
  it.each(Object.keys(SOURCES))("%s: Latin-1 only, so a worker's heap keeps it at one byte a character", (name) => {
    const source = SOURCES[name]!;
    const wide = [...source].flatMap((c, i) => (c.charCodeAt(0) > 0xff ? [`${JSON.stringify(c)} at ${i}`] : []));
    expect(wide).toEqual([]);
  });
});
