// Each Deno process runs with a DENO_DIR of its own (its caches), removed
// when the process exits. A sandbox that is killed (SIGKILL, the OOM killer)
// cannot remove them: about 3 MB each, left in the temporary folder for good,
// two more at every crash. So the homes of one sandbox process share a
// folder named with its pid, and a sandbox starting on the machine removes
// the folders of sandboxes that are gone.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const PREFIX = "secutils-sandbox-";
const HOMES_OF_PID = new RegExp(`^${PREFIX}(\\d+)-`);

let root: string | undefined;
let homes = 0;
let removeAtExit: (() => void) | undefined;

/** A new, empty DENO_DIR for one Deno process of this sandbox; `removeDenoHome` it when the process has exited. */
export function newDenoHome(): string {
  if (root === undefined) {
    const tmp = os.tmpdir();
    removeStaleHomes(tmp);
    const made = fs.mkdtempSync(path.join(tmp, `${PREFIX}${process.pid}-`));
    root = made;
    removeAtExit = () => fs.rmSync(made, { recursive: true, force: true });
    process.once("exit", removeAtExit);
  }
  homes++;
  return fs.mkdtempSync(path.join(root, "deno-"));
}

/** Removes a home; with the last one, the sandbox's folder goes too (made again for the next). */
export function removeDenoHome(home: string): void {
  fs.rmSync(home, { recursive: true, force: true });
  if (--homes > 0 || root === undefined) return;
  fs.rmSync(root, { recursive: true, force: true });
  if (removeAtExit) process.off("exit", removeAtExit);
  root = undefined;
  removeAtExit = undefined;
}

/**
 * Removes the homes' folders in `tmp` of sandbox processes that no longer
 * run. A pid reused since is taken for alive, and its folder kept.
 */
export function removeStaleHomes(tmp: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(tmp);
  } catch {
    return removed;
  }
  for (const name of names) {
    const pid = Number(HOMES_OF_PID.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || isRunning(pid)) continue;
    try {
      fs.rmSync(path.join(tmp, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      // Another user's, say: not ours to remove, and no reason not to start.
    }
  }
  return removed;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
