import fs from "node:fs";
import path from "node:path";
import { ROOT } from "./process.js";

// The reference product's companion documents (shared/reference), read at test
// time and never copied into the project. They sit beside the checkout on the
// development machine; a clone elsewhere (CI's) finds them through
// SECUTILS_REFERENCE_DIR or the machine's shared folder.
const CANDIDATES = [process.env.SECUTILS_REFERENCE_DIR, path.resolve(ROOT, "../shared/reference"), "/work/shared/reference"];

/** The folder holding the reference's *.SKILL.md documents; throws, naming where it looked, when there is none. */
export function referenceDir(): string {
  const found = CANDIDATES.find((dir): dir is string => dir !== undefined && fs.existsSync(path.join(dir, "webhooks.SKILL.md")));
  if (!found) throw new Error(`the reference documents are missing: looked in ${CANDIDATES.filter(Boolean).join(", ")} (set SECUTILS_REFERENCE_DIR)`);
  return found;
}
