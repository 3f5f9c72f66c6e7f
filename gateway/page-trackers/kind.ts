import { invalid } from "../../common/errors.js";
import { isHeaderValue } from "../responders/rules.js";
import { PAGE_TRACKERS } from "../trackers/kinds.js";
import { checkScript } from "../trackers/rules.js";
import type { TrackerKindDef, TrackersService } from "../trackers/service.js";
import type { TrackerRecord } from "../trackers/store.js";
import type { PageEngine, PageTargetInput, PageTargetView } from "./schemas.js";

/** A page tracker's target as kept. */
export interface PageTarget {
  extractor: string;
  acceptInvalidCertificates: boolean;
  userAgent?: string;
  /** Kept and returned as the reference has it; runs use Chromium whatever it says. */
  engine?: PageEngine;
}

export type PageTrackerRecord = TrackerRecord<PageTarget>;
export type PageTrackersService = TrackersService<PageTargetInput, PageTarget, PageTargetView, Row>;

interface Row {
  extractor: string;
  accept_invalid_certificates: boolean;
  user_agent: string | null;
  engine: PageEngine | null;
}

function checkPageTarget(t: PageTargetInput): void {
  checkScript("target.extractor", t.extractor);
  if (t.acceptInvalidCertificates !== undefined && t.ignoreHttpsErrors !== undefined && t.acceptInvalidCertificates !== t.ignoreHttpsErrors) {
    throw invalid("target.acceptInvalidCertificates and target.ignoreHttpsErrors must agree when both are given");
  }
  // The browser sends it as a header.
  if (typeof t.userAgent === "string" && !isHeaderValue(t.userAgent)) {
    throw invalid("target.userAgent must not contain control characters or characters above U+00FF");
  }
}

export const PAGE_TRACKER_KIND: TrackerKindDef<PageTargetInput, PageTarget, PageTargetView, Row> = {
  kind: PAGE_TRACKERS,
  columns: {
    columns: [{ name: "extractor" }, { name: "accept_invalid_certificates" }, { name: "user_agent" }, { name: "engine", cast: "jsonb" }],
    values: (t) => [t.extractor, t.acceptInvalidCertificates, t.userAgent ?? null, t.engine === undefined ? null : JSON.stringify(t.engine)],
    fromRow: (r) => ({
      extractor: r.extractor,
      acceptInvalidCertificates: r.accept_invalid_certificates,
      ...(r.user_agent === null ? {} : { userAgent: r.user_agent }),
      ...(r.engine === null ? {} : { engine: r.engine }),
    }),
  },
  checkTarget: checkPageTarget,
  // A target sent without the flag replaces the old one whole: the flag goes back to false.
  stored: (t) => ({
    extractor: t.extractor,
    acceptInvalidCertificates: t.acceptInvalidCertificates ?? t.ignoreHttpsErrors ?? false,
    ...(t.userAgent === undefined || t.userAgent === null ? {} : { userAgent: t.userAgent }),
    ...(t.engine === undefined || t.engine === null ? {} : { engine: { type: t.engine.type } }),
  }),
  // The flag is always shown, false included: a client need not know the default. Under both
  // names, so that a client reads it back under the name it wrote.
  view: (t) => ({
    extractor: t.extractor,
    acceptInvalidCertificates: t.acceptInvalidCertificates,
    ignoreHttpsErrors: t.acceptInvalidCertificates,
    ...(t.userAgent === undefined ? {} : { userAgent: t.userAgent }),
    ...(t.engine === undefined ? {} : { engine: t.engine }),
  }),
  // The extractor gets the secrets; accepting invalid certificates lets another
  // party read what it types into a page. The user agent and engine change neither.
  sameRecipients: (a, b) => a.extractor === b.extractor && a.acceptInvalidCertificates === b.acceptInvalidCertificates,
};
