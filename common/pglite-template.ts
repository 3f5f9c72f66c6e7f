import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";

// Creating a PGlite database runs initdb inside WebAssembly: about 10 s of CPU
// on the development machine, against under 2 s to open one that exists. So
// it is done once per installed PGlite version, into a template folder under
// node_modules/.cache (by `npm install`, or by the first service that needs
// it), and every new embedded database starts as a copy of that folder.
// A service whose migrations take a while (the gateway's: about 0.6 s) gets a
// template of its own with them applied, named by their content.

const PGLITE_ENTRY = fileURLToPath(import.meta.resolve("@electric-sql/pglite"));
const NODE_MODULES = PGLITE_ENTRY.slice(0, PGLITE_ENTRY.lastIndexOf(`${path.sep}node_modules${path.sep}`) + `${path.sep}node_modules`.length);
const VERSION = (JSON.parse(fs.readFileSync(path.join(NODE_MODULES, "@electric-sql", "pglite", "package.json"), "utf8")) as { version: string }).version;
export const TEMPLATE_DIR = path.join(NODE_MODULES, ".cache", "secutils-pglite", VERSION);
/**
 * What every embedded database here starts with: PGlite's own parameters and
 * a 16 MB shared_buffers instead of Postgres's default 128 MB. Postgres zeroes
 * its shared memory when it starts, and in WebAssembly compiled by Liftoff
 * only (db.ts) that memset was most of opening a database: 0.80-0.93 s
 * against 0.46-0.51 s on an existing folder, and the zeroed pages stayed
 * resident (247 MB against 129 MB for the process). A service's embedded
 * database is a few megabytes.
 */
export const pgliteOptions = () => ({ startParams: [...PGlite.defaultStartParams, "-c", "shared_buffers=16MB"] });

/** Written last: a folder without it is a template whose creation was cut short. */
const COMPLETE = ".secutils-template-complete";

/** Makes the template at `target` with `make` (given an empty folder) unless it exists; safe from several processes at once. */
async function ensureTemplate(target: string, make: (dir: string) => Promise<void>): Promise<string> {
  if (fs.existsSync(path.join(target, COMPLETE))) return target;
  const tmp = `${target}.tmp-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    await make(tmp);
    fs.writeFileSync(path.join(tmp, COMPLETE), "");
    try {
      fs.renameSync(tmp, target);
    } catch (err) {
      // Another process finished first: its template is as good. Anything else there is not one.
      if (fs.existsSync(path.join(target, COMPLETE))) return target;
      if ((err as NodeJS.ErrnoException).code !== "ENOTEMPTY" && (err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      fs.rmSync(target, { recursive: true, force: true });
      fs.renameSync(tmp, target);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return target;
}

/** The empty database's template. */
export function ensurePgliteTemplate(): Promise<string> {
  return ensureTemplate(TEMPLATE_DIR, async (dir) => {
    const db = await PGlite.create(dir, pgliteOptions());
    await db.close();
  });
}

function copyTemplate(template: string, dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.cpSync(template, dir, { recursive: true, filter: (src) => path.basename(src) !== COMPLETE });
}

/**
 * A template made from the empty one by `prepare` (given a copy of it), kept
 * under `key`: the key must change whenever what `prepare` does changes.
 */
export async function ensureDerivedTemplate(key: string, prepare: (dir: string) => Promise<void>): Promise<string> {
  const base = await ensurePgliteTemplate();
  return ensureTemplate(`${TEMPLATE_DIR}-${key}`, async (dir) => {
    copyTemplate(base, dir);
    await prepare(dir);
  });
}

/** Makes `dir` a new database copied from a template (the empty one by default), unless it already holds one. */
export async function seedPgliteDir(dir: string, template: () => Promise<string> = ensurePgliteTemplate): Promise<void> {
  if (fs.existsSync(path.join(dir, "PG_VERSION"))) return;
  copyTemplate(await template(), dir);
}
