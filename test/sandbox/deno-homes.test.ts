// The Deno processes' DENO_DIR folders (sandbox/pool/deno-homes.ts): a
// sandbox killed with SIGKILL cannot remove them, so the next sandbox to
// start removes those of sandboxes that are gone, and never another live
// sandbox's.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { removeStaleHomes } from "../../sandbox/pool/deno-homes.js";
import { startRunner } from "../helpers/deno-runner.js";
import { Stack } from "../helpers/stack.js";

const made: string[] = [];
afterAll(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "deno-homes-test-"));
  made.push(dir);
  return dir;
}

/** A sandbox's homes folder as one would be left, with a Deno home and a cache file in it. */
function homesOf(tmp: string, pid: number): string {
  const name = `secutils-sandbox-${pid}-${Math.random().toString(36).slice(2, 8)}`;
  fs.mkdirSync(path.join(tmp, name, "deno-x"), { recursive: true });
  fs.writeFileSync(path.join(tmp, name, "deno-x", "dep_analysis_cache_v2"), "cache");
  return name;
}

const sandboxFolders = (tmp: string) => fs.readdirSync(tmp).filter((n) => n.startsWith("secutils-sandbox-"));

it("removes the folders of sandbox processes that are gone, and only those", () => {
  const tmp = tempDir();
  const gone = spawnSync(process.execPath, ["-e", ""]).pid!;
  const running = spawn("sleep", ["30"]);
  try {
    const stale = homesOf(tmp, gone);
    const live = homesOf(tmp, running.pid!);
    const ours = homesOf(tmp, process.pid);
    fs.mkdirSync(path.join(tmp, "secutils-sandbox-notapid"));
    fs.mkdirSync(path.join(tmp, "something-else"));

    expect(removeStaleHomes(tmp)).toEqual([stale]);
    expect(fs.readdirSync(tmp).sort()).toEqual([live, ours, "secutils-sandbox-notapid", "something-else"].sort());
  } finally {
    running.kill();
  }
});

it("a process's folder is there while its Deno processes are, and goes with the last of them", async () => {
  const ours = () => sandboxFolders(os.tmpdir()).filter((n) => n.startsWith(`secutils-sandbox-${process.pid}-`));
  const runners = [startRunner(), startRunner()];
  const [folder] = ours();
  expect(ours()).toEqual([folder]);
  expect(fs.readdirSync(path.join(os.tmpdir(), folder!))).toHaveLength(2);
  await runners[0]!.deno.stop();
  expect(fs.readdirSync(path.join(os.tmpdir(), folder!))).toHaveLength(1);
  await runners[1]!.deno.stop();
  expect(ours()).toEqual([]);
});

it("a sandbox killed with SIGKILL leaves its Deno homes, and the next sandbox's start removes them; a clean stop leaves none", async () => {
  const tmp = tempDir();
  const stack = await Stack.start({ sandboxEnv: { TMPDIR: tmp } });
  try {
    const first = sandboxFolders(tmp);
    expect(first).toEqual([expect.stringMatching(new RegExp(`^secutils-sandbox-${stack.sandbox.child.pid}-`))]);
    expect(fs.readdirSync(path.join(tmp, first[0]!)).some((n) => n.startsWith("deno-"))).toBe(true);

    await stack.killSandbox();
    expect(sandboxFolders(tmp)).toEqual(first);

    await stack.startSandbox();
    const second = sandboxFolders(tmp);
    expect(second).toEqual([expect.stringMatching(new RegExp(`^secutils-sandbox-${stack.sandbox.child.pid}-`))]);
    expect(second).not.toEqual(first);

    await stack.stopSandbox();
    expect(sandboxFolders(tmp)).toEqual([]);
  } finally {
    await stack.stop();
  }
});
