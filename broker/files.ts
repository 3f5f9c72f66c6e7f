// Files the broker reads at run time, found from this folder. In `npm
// start`'s bundle (dist/broker/main.js) every module's import.meta.url is the
// bundle's, so only a module at the service's root names the same folder
// bundled, compiled file by file, or run from source.
import path from "node:path";
import { fileURLToPath } from "node:url";

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "migrations");
