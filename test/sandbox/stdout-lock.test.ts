// The lock over a Deno process's stdout (sandbox/deno/output.js), in a real
// Deno process with real worker threads: long lines from several writers at
// once all arrive whole, and the lock of a holder that ended mid-line is
// taken over with that line ended before anyone else writes.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { denoPath } from "../helpers/deno-runner.js";

const OUTPUT_JS = pathToFileURL(path.resolve("sandbox/deno/output.js")).href;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stdout-lock-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs `body` as a Deno module with `stdoutLock` imported; resolves with its stdout. */
function runDeno(body: string): Promise<string> {
  const file = path.join(dir, `case-${Math.random().toString(36).slice(2)}.js`);
  fs.writeFileSync(file, `import { Worker } from "node:worker_threads";\nimport { stdoutLock } from ${JSON.stringify(OUTPUT_JS)};\n${body}`);
  return new Promise((resolve, reject) => {
    const child = spawn(denoPath, ["run", "--no-config", "--no-lock", "--quiet", file], { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(Buffer.concat(out).toString()) : reject(new Error(`deno exited ${code}: ${err}`))));
  });
}

/**
 * The start of a case: `word` and `lock` in scope, the lock held by
 * `holder`, and `half` already written, as by a holder ended mid-line.
 */
const heldWithHalfLine = (holder: number, half: string) => `
  const word = new Int32Array(new SharedArrayBuffer(4));
  const lock = stdoutLock();
  Atomics.store(word, 0, ${holder});
  Deno.stdout.writeSync(new TextEncoder().encode(${JSON.stringify(half)}));
`;

describe("the lock over a Deno process's stdout", () => {
  // Deno's own stdout writes are whole here even without the lock (each is
  // one call under Rust's stdout mutex); what this checks is the lock under
  // contention: no line lost, cut or mixed, and no writer left waiting.
  it("lets two workers and the main thread write 256 KiB lines at once, each line arriving whole", async () => {
    const out = await runDeno(`
      const word = new Int32Array(new SharedArrayBuffer(4));
      const writer = (id) => \`
        const { workerData } = require("node:worker_threads");
        const lock = (\${stdoutLock.toString()})();
        const word = new Int32Array(workerData.word);
        for (let i = 0; i < 40; i++) lock.write(word, \${id}, "\${id}".repeat(256 * 1024) + "\\\\n");
      \`;
      const done = [1, 2].map((id) => new Promise((resolve) => new Worker(writer(id), { eval: true, workerData: { word: word.buffer } }).on("exit", resolve)));
      const lock = stdoutLock();
      for (let i = 0; i < 40; i++) lock.write(word, 3, "3".repeat(256 * 1024) + "\\n");
      await Promise.all(done);
    `);
    const lines = out.split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(120);
    for (const id of ["1", "2", "3"]) {
      const mine = lines.filter((l) => l[0] === id);
      expect(mine).toHaveLength(40);
      // A line with another writer's bytes in it, or cut short, would differ.
      for (const l of mine) expect(l === id.repeat(256 * 1024)).toBe(true);
    }
  });

  it("after its holder has ended mid-line: ends that line, then lets the next writer through", async () => {
    // Holder 5 wrote half a line and was ended before releasing.
    const out = await runDeno(`${heldWithHalfLine(5, 'R\t1\tR{"half')}
      const refused = lock.tryWrite(word, 9, "never\\n");
      const worker = new Worker(\`
        const { parentPort, workerData } = require("node:worker_threads");
        const lock = (\${stdoutLock.toString()})();
        parentPort.postMessage("writing");
        lock.write(new Int32Array(workerData.word), 6, "waited\\\\n");
      \`, { eval: true, workerData: { word: word.buffer } });
      const waiting = new Promise((resolve) => worker.on("exit", resolve));
      // The worker is at the lock (held by 5) from here on.
      await new Promise((resolve) => worker.once("message", resolve));
      lock.takeOver(word, 7, 9);
      const stillHeld = Atomics.load(word, 0);
      lock.takeOver(word, 5, 9);
      await waiting;
      lock.write(word, 9, \`refused \${refused}, held by \${stillHeld}\\n\`);
    `);
    // Taking over for a holder that does not hold it (7) changes nothing.
    expect(out.split("\n")).toEqual(['R\t1\tR{"half', "waited", "refused false, held by 5", ""]);
  });

  it("lets a thread whose own write was cut short with the lock held write again, its half line ended first", async () => {
    // As after running out of heap mid-write: the lock still held by this very writer (3).
    const out = await runDeno(`${heldWithHalfLine(3, 'R\t2\tR{"cut')}
      lock.write(word, 3, 'R\\t2\\tE{"kind":"memory_limit"}\\n');
      lock.write(word, 4, "next\\n");
    `);
    expect(out.split("\n")).toEqual(['R\t2\tR{"cut', 'R\t2\tE{"kind":"memory_limit"}', "next", ""]);
  });
});
