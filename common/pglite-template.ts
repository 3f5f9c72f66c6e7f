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

const PGLITE_ENTRY = fileURLToPath(import.meta.resolve("@electric-sql/pglite"));
const NODE_MODULES = PGLITE_ENTRY.slice(0, PGLITE_ENTRY.lastIndexOf(`${path.sep}node_modules${path.sep}`) + `${path.sep}node_modules`.length);
const VERSION = (JSON.parse(fs.readFileSync(path.join(NODE_MODULES, "@electric-sql", "pglite", "package.json"), "utf8")) as { version: string }).version;
export const TEMPLATE_DIR = path.join(NODE_MODULES, ".cache", "secutils-pglite", VERSION);
/** Written last: a folder without it is a template whose creation was cut short. */
const COMPLETE = ".secutils-template-complete";

/** Creates the template unless it exists; safe to run from several processes at once. */
export async function ensurePgliteTemplate(): Promise<string> {
  if (fs.existsSync(path.join(TEMPLATE_DIR, COMPLETE))) return TEMPLATE_DIR;
  const tmp = `${TEMPLATE_DIR}.tmp-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    const db = await PGlite.create(tmp);
    await db.close();
    fs.writeFileSync(path.join(tmp, COMPLETE), "");
    try {
      fs.renameSync(tmp, TEMPLATE_DIR);
    } catch (err) {
      // Another process finished first: its template is as good. Anything else there is not one.
      if (fs.existsSync(path.join(TEMPLATE_DIR, COMPLETE))) return TEMPLATE_DIR;
      if ((err as NodeJS.ErrnoException).code !== "ENOTEMPTY" && (err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      fs.rmSync(TEMPLATE_DIR, { recursive: true, force: true });
      fs.renameSync(tmp, TEMPLATE_DIR);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return TEMPLATE_DIR;
}

/** Makes `dir` a new database copied from the template, unless it already holds one. */
export async function seedPgliteDir(dir: string): Promise<void> {
  if (fs.existsSync(path.join(dir, "PG_VERSION"))) return;
  const template = await ensurePgliteTemplate();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.cpSync(template, dir, { recursive: true, filter: (src) => path.basename(src) !== COMPLETE });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  const existed = fs.existsSync(path.join(TEMPLATE_DIR, COMPLETE));
  await ensurePgliteTemplate();
  if (!existed) process.stderr.write(`created the embedded database template in ${Date.now() - t0} ms (${TEMPLATE_DIR})\n`);
}
