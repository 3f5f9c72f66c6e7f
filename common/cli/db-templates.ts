// Run by `npm install`: makes the embedded database templates (the empty
// one, and the gateway's with its migrations applied), so that no service
// pays for them on its first start.
import { gatewayTemplate } from "../../gateway/database.js";
import { ensurePgliteTemplate } from "../pglite-template.js";

const t0 = Date.now();
const [empty, gateway] = [await ensurePgliteTemplate(), await gatewayTemplate()];
process.stderr.write(`embedded database templates ready in ${Date.now() - t0} ms (${empty}, ${gateway})\n`);
