import { checkScript, checkTrackerBasics } from "../trackers/rules.js";
import type { CreatePageTracker } from "./schemas.js";

/** Rules a JSON schema cannot say; messages name the field, never a value. */
export function checkPageTracker(t: Pick<CreatePageTracker, "name" | "config" | "target">): void {
  checkTrackerBasics(t);
  checkScript("target.extractor", t.target.extractor);
}
