/**
 * The most a tracker run hands its extractor as the previous revision
 * (`previous_content_json`: `{"original": ...}` as JSON text), by kind. The
 * sandbox refuses a run that sends more; the gateway keeps no revision whose
 * form would pass it, since every later run would be refused (an API tracker
 * whose extractor once returned 2.5 MiB failed every run after). An API
 * extractor is also handed up to 2 MiB of responses in the same context.
 */
export const PREVIOUS_CONTENT_MAX_BYTES = { api: 2 * 1024 * 1024, page: 8 * 1024 * 1024 } as const;
