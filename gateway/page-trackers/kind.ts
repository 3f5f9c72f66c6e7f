import { PAGE_TRACKERS } from "../trackers/kinds.js";
import { checkScript } from "../trackers/rules.js";
import type { TrackerKindDef, TrackersService } from "../trackers/service.js";
import type { TrackerRecord } from "../trackers/store.js";
import type { PageTargetInput, PageTargetView } from "./schemas.js";

/** A page tracker's target as kept. */
export interface PageTarget {
  extractor: string;
  acceptInvalidCertificates: boolean;
}

export type PageTrackerRecord = TrackerRecord<PageTarget>;
export type PageTrackersService = TrackersService<PageTargetInput, PageTarget, PageTargetView, Row>;

interface Row {
  extractor: string;
  accept_invalid_certificates: boolean;
}

export const PAGE_TRACKER_KIND: TrackerKindDef<PageTargetInput, PageTarget, PageTargetView, Row> = {
  kind: PAGE_TRACKERS,
  columns: {
    columns: [{ name: "extractor" }, { name: "accept_invalid_certificates" }],
    values: (t) => [t.extractor, t.acceptInvalidCertificates],
    fromRow: (r) => ({ extractor: r.extractor, acceptInvalidCertificates: r.accept_invalid_certificates }),
  },
  checkTarget: (t) => checkScript("target.extractor", t.extractor),
  // A target sent without the flag replaces the old one whole: the flag goes back to false.
  stored: (t) => ({ extractor: t.extractor, acceptInvalidCertificates: t.acceptInvalidCertificates ?? false }),
  // The flag is always shown, false included: a client need not know the default.
  view: (t) => ({ extractor: t.extractor, acceptInvalidCertificates: t.acceptInvalidCertificates }),
  // The extractor gets the secrets; accepting invalid certificates lets another party read what it types into a page.
  sameRecipients: (a, b) => a.extractor === b.extractor && a.acceptInvalidCertificates === b.acceptInvalidCertificates,
};
