/**
 * Where each tracker kind keeps its rows and how the API names it: table
 * names come from this closed list, never from input, so they may be written
 * into SQL text.
 */
export interface TrackerKind {
  /** For messages, logs and metrics. */
  label: "API tracker" | "page tracker";
  /** The label with its article, for messages such as "an API tracker with this name already exists". */
  aLabel: "an API tracker" | "a page tracker";
  metric: "api" | "page";
  /** Grants name the tracker they were minted for as `<consumer>:<id>`. */
  consumer: "api_tracker" | "page_tracker";
  trackers: "api_trackers" | "page_trackers";
  revisions: "api_tracker_revisions" | "page_tracker_revisions";
  runs: "api_tracker_runs" | "page_tracker_runs";
  /** The advisory lock class under which runs of one tracker store revisions in turn. */
  revisionLock: 4 | 5;
  /** The advisory lock class under which one user's creates of this kind are counted in turn. */
  countLock: 9 | 10;
  /** The collection's path. */
  base: "/api/web_scraping/api_trackers" | "/api/web_scraping/page_trackers";
  /** The kind in operation ids and schema names: `listApiTrackers`, `ApiTrackerRevision`. */
  operation: "ApiTracker" | "PageTracker";
}

export const API_TRACKERS: TrackerKind = {
  label: "API tracker",
  aLabel: "an API tracker",
  metric: "api",
  consumer: "api_tracker",
  trackers: "api_trackers",
  revisions: "api_tracker_revisions",
  runs: "api_tracker_runs",
  revisionLock: 4,
  countLock: 9,
  base: "/api/web_scraping/api_trackers",
  operation: "ApiTracker",
};

export const PAGE_TRACKERS: TrackerKind = {
  label: "page tracker",
  aLabel: "a page tracker",
  metric: "page",
  consumer: "page_tracker",
  trackers: "page_trackers",
  revisions: "page_tracker_revisions",
  runs: "page_tracker_runs",
  revisionLock: 5,
  countLock: 10,
  base: "/api/web_scraping/page_trackers",
  operation: "PageTracker",
};
