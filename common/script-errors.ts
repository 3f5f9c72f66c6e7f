import { ErrorKind } from "../proto/gen/secutils/sandbox/v1/sandbox.js";

// The names script error kinds go by in the realm's reports, in tracker run
// logs and in metrics labels: one table, read both ways.
const NAMES: ReadonlyArray<readonly [ErrorKind, string]> = [
  [ErrorKind.ERROR_KIND_TIME_LIMIT, "time_limit"],
  [ErrorKind.ERROR_KIND_MEMORY_LIMIT, "memory_limit"],
  [ErrorKind.ERROR_KIND_SCRIPT_ERROR, "script_error"],
  [ErrorKind.ERROR_KIND_UPSTREAM_FAILURE, "upstream_failure"],
  [ErrorKind.ERROR_KIND_URL_NOT_ALLOWED, "url_not_allowed"],
  [ErrorKind.ERROR_KIND_UPSTREAM_TOO_LARGE, "upstream_too_large"],
  [ErrorKind.ERROR_KIND_RESULT_TOO_LARGE, "result_too_large"],
];
const BY_KIND = new Map(NAMES);
// A Map, so names such as "constructor" find nothing.
const BY_NAME = new Map(NAMES.map(([kind, name]) => [name, kind]));

/** "time_limit", "script_error", ...; undefined for an unknown kind. */
export const errorKindName = (kind: ErrorKind): string | undefined => BY_KIND.get(kind);

export const errorKindNamed = (name: string): ErrorKind | undefined => BY_NAME.get(name);

/**
 * What the sandbox answers (as UNAVAILABLE) when its call for a run's secrets
 * reached a broker and was lost with it (the broker died with the call in
 * flight): nothing of the run has started, and its grant may have been used
 * there, so the gateway sends the run once more under a new grant.
 */
export const RELEASE_LOST_MESSAGE = "the run's secrets were lost with a broker that stopped; nothing ran";

/** What a run that started and then lost its process (a Deno process, or a whole sandbox instance) answers. */
export const INTERRUPTED_MESSAGE = "the execution was interrupted: its sandbox process stopped";

/**
 * Trailer the sandbox puts on every error it answers itself, so the gateway
 * can tell such an answer from a connection that died under a started run.
 */
export const ANSWERED_TRAILER = "secutils-answered";
