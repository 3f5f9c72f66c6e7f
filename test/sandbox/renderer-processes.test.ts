import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startTime } from "../../sandbox/page-trackers/renderer-processes.js";

// The renderer memory cap takes a process id claimed for a run as that run's
// only while the id still names the process that was claimed: its start time
// tells a reused id apart.
describe("a process's start time", () => {
  it("is the same on every read, later for a later process, and undefined once the process is gone", async () => {
    const mine = await startTime(process.pid);
    expect(mine).toMatch(/^\d+$/);
    expect(await startTime(process.pid)).toBe(mine);

    // A program whose name holds spaces and parentheses, as /proc/<pid>/stat shows it between parentheses.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "start-time-"));
    const odd = path.join(dir, "odd (nm) x");
    fs.copyFileSync("/usr/bin/sleep", odd);
    fs.chmodSync(odd, 0o755);
    const child = spawn(odd, ["30"]);
    await once(child, "spawn");
    expect(fs.readFileSync(`/proc/${child.pid}/stat`, "utf8")).toContain("(odd (nm) x)");
    const theirs = await startTime(child.pid!);
    expect(theirs).toMatch(/^\d+$/);
    expect(Number(theirs)).toBeGreaterThanOrEqual(Number(mine));
    // It started a moment ago: in clock ticks since boot (USER_HZ, 100 a second on Linux), close to the uptime.
    const uptimeTicks = Number(fs.readFileSync("/proc/uptime", "utf8").split(" ")[0]) * 100;
    expect(Number(theirs)).toBeGreaterThan(uptimeTicks - 1000);
    expect(Number(theirs)).toBeLessThanOrEqual(uptimeTicks + 1);
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
    expect(await startTime(child.pid!)).toBeUndefined();
  });
});
