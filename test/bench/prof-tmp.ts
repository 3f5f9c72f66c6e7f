// TEMPORARY profiling harness (not committed).
import fs from "node:fs";
import { host } from "./sandbox-host.js";
import { request, TRIVIAL, expectBody } from "./sandbox-cases.js";
import { ensureDevMaterial } from "../../common/dev-material.js";

const dev = await ensureDevMaterial("/tmp/prof/data");
const h = host({ PATH: process.env.PATH, DATA_DIR: dev.dataDir, SANDBOX_WARMUP_DELAY_MS: "0" });
const s = h.start(process.env.BASE ? { workerBaseMb: Number(process.env.BASE) } : {});
await s.pool.ready();
const ticks = (pid: number) => { const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8"); const x = f.slice(f.lastIndexOf(")") + 2).split(" "); return Number(x[11]) + Number(x[12]); };
const users = Array.from({ length: 4 }, () => crypto.randomUUID());
const N = Number(process.env.N ?? 4000);
const conc = Number(process.env.C ?? 4);
async function run(n: number) {
  let i = 0;
  await Promise.all(users.slice(0, conc).map(async (u) => { while (i++ < n) expectBody(await s.service.execute(request(u, TRIVIAL)), TRIVIAL); }));
}
await run(1000);
const pids = s.pool.processPids();
const threads = () => { const m = new Map<string, number>(); for (const pid of pids) for (const tid of fs.readdirSync(`/proc/${pid}/task`)) { try { const comm = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim().replace(/\d+/g, "#"); const f = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8"); const x = f.slice(f.lastIndexOf(")") + 2).split(" "); m.set(comm, (m.get(comm) ?? 0) + Number(x[11]) + Number(x[12])); } catch {} } return m; };
const th0 = threads();
const d0 = pids.map(ticks), n0 = process.cpuUsage(), t0 = performance.now();
await run(N);
const wall = performance.now() - t0;
const d1 = pids.map(ticks), n1 = process.cpuUsage(n0);
const th1 = threads();
console.log([...th1].map(([k, v]) => `${k}=${((v - (th0.get(k) ?? 0)) * 10 / N).toFixed(2)}`).join(" "));
const denoMs = (d1.reduce((a, b) => a + b, 0) - d0.reduce((a, b) => a + b, 0)) * 10;
console.log(`execs ${N} wall ${(wall / N).toFixed(3)} ms/exec; deno CPU ${(denoMs / N).toFixed(3)} ms/exec; node CPU ${((n1.user + n1.system) / 1000 / N).toFixed(3)} ms/exec`);
await s.stop();
