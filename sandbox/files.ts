// Files the sandbox reads at run time, found from this folder. In `npm
// start`'s bundle (dist/sandbox/main.js) every module's import.meta.url is
// the bundle's, so only a module at the service's root names the same folder
// bundled, compiled file by file, or run from source.
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The Deno side's entry point; its modules sit beside it. */
export const DENO_RUNNER = path.join(path.dirname(fileURLToPath(import.meta.url)), "deno", "runner.js");

/** The proxy thread's module (executions/proxy-thread.ts), compiled beside this one; from source when this one is. */
export const PROXY_THREAD = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "executions",
  `proxy-thread${path.extname(fileURLToPath(import.meta.url))}`,
);
