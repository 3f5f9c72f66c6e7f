// @ts-check
// Compiles the services' TypeScript to JavaScript under dist/ (esbuild, one
// file per source file, same layout), with the files they read at run time
// (migrations, the Deno side of the sandbox), then bundles each service's
// entry point with its dependencies into one file at the same place. Services
// then start on plain Node: loading through tsx cost each of them about a
// second of CPU more, and loading a thousand files instead of one about 0.7 s.
//
// Run by `npm install` (postinstall), `npm start` and `npm test` (pre-scripts)
// and by the tests' process helper; it does nothing when dist/ already holds
// the current sources, so it costs a few milliseconds then. Plain JavaScript,
// so that it needs no TypeScript loader itself.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const DIST = path.join(ROOT, "dist");
const STAMP = path.join(DIST, ".sources");
const SOURCE_DIRS = ["broker", "gateway", "sandbox", "common", "proto/gen"];
/** The services' entry points, the sandbox's proxy thread and `npm start`'s launcher, each also bundled (see build()). */
const BUNDLED = ["broker/main.ts", "sandbox/main.ts", "sandbox/executions/proxy-thread.ts", "gateway/main.ts", "common/cli/start.ts"];
/**
 * Left out of the bundles and loaded from node_modules: they read files that
 * sit beside their own code (PGlite its WebAssembly and data, playwright-core
 * its protocol files, grpc-health-check its .proto, sodium-native its
 * prebuilt addon, @fastify/swagger-ui Swagger UI's static files).
 */
const EXTERNAL = ["@electric-sql/pglite", "playwright-core", "grpc-health-check", "sodium-native", "@fastify/swagger-ui"];
/** Files read at run time next to the code that reads them. */
const ASSET = /(\/migrations\/[^/]+\.sql|^sandbox\/deno\/.+\.js)$/;

/** @param {string} dir @returns {string[]} paths relative to ROOT */
function walk(dir) {
  const out = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...walk(rel));
    else out.push(rel);
  }
  return out;
}

function sources() {
  const files = SOURCE_DIRS.flatMap(walk).sort();
  return {
    code: files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")),
    assets: files.filter((f) => ASSET.test(f)),
  };
}

/** What the output depends on: every input's path, size and time, and this script. */
function fingerprint(/** @type {string[]} */ files) {
  const h = crypto.createHash("sha256");
  for (const f of [...files, "common/cli/build.mjs", "package-lock.json"]) {
    const st = fs.statSync(path.join(ROOT, f), { throwIfNoEntry: false });
    h.update(`${f}\0${st?.size ?? -1}\0${st?.mtimeMs ?? -1}\n`);
  }
  return h.digest("hex");
}

export async function build() {
  const { code, assets } = sources();
  const print = fingerprint([...code, ...assets]);
  if (readStamp() === print) return false;
  const { build: esbuild } = await import("esbuild");
  // Built beside dist/ and swapped in, so a process started meanwhile never loads half a build.
  const tmp = `${DIST}.tmp-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  await esbuild({
    entryPoints: code.map((f) => path.join(ROOT, f)),
    outdir: tmp,
    outbase: ROOT,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "error",
  });
  // Each service's entry point again, over its per-file output: one file
  // with its dependencies, so a start reads and compiles one module instead
  // of about a thousand (the gateway listened after 1.7 s of CPU, 0.95 s
  // bundled). The per-file output stays for the other command-line tools.
  await esbuild({
    entryPoints: BUNDLED.map((f) => path.join(ROOT, f)),
    outdir: tmp,
    outbase: ROOT,
    bundle: true,
    external: EXTERNAL.flatMap((p) => [p, `${p}/*`]),
    // For the CommonJS packages' require() of Node's own modules.
    banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
    allowOverwrite: true,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "error",
  });
  for (const f of assets) {
    fs.mkdirSync(path.dirname(path.join(tmp, f)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), path.join(tmp, f));
  }
  fs.writeFileSync(path.join(tmp, ".sources"), print);
  const old = `${DIST}.old-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  try {
    fs.renameSync(DIST, old);
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== "ENOENT") throw err;
  }
  try {
    fs.renameSync(tmp, DIST);
  } catch (err) {
    // Another build swapped its own in meanwhile: it built the same sources.
    if (!["ENOTEMPTY", "EEXIST"].includes(/** @type {NodeJS.ErrnoException} */ (err).code ?? "")) throw err;
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  fs.rmSync(old, { recursive: true, force: true });
  return true;
}

function readStamp() {
  try {
    return fs.readFileSync(STAMP, "utf8");
  } catch {
    return "";
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  if (await build()) process.stderr.write(`built dist/ in ${Date.now() - t0} ms\n`);
}
