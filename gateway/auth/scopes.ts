import { Type } from "@sinclair/typebox";

/**
 * What an API key may do. One scope per family of routes, plus one for the
 * step that turns a route into a way of reading values:
 * - `secrets`: /api/user/secrets* (metadata, writes, the audit trail; values are never readable anyway)
 * - `responders`: /api/webhooks/responders*
 * - `trackers`: /api/web_scraping/api_trackers* and /api/web_scraping/page_trackers*
 * - `scripts`: /api/user/scripts* (reusable snippets: text, never run from there)
 * - `tags`: /api/user/tags* (tagging an item needs only that item's scope)
 * - /api/user/data/* (export and import) needs the scope of every collection
 *   its body names, and `tags` when an imported item is tagged
 * - `secrets:grant`: give scripts and templates access to secrets, i.e. create
 *   or widen an access setting, or change the script or target that an
 *   existing one serves. Without it a key can still manage responders and
 *   trackers, and narrow what they get.
 * Key management is in no scope: only a session can mint or revoke keys.
 */
export const SCOPES = ["secrets", "responders", "trackers", "secrets:grant", "scripts", "tags"] as const;
export type Scope = (typeof SCOPES)[number];
/** The scopes a route family needs; `secrets:grant` is checked where access settings change. */
export type RouteScope = Exclude<Scope, "secrets:grant">;

/** Everything but key management: what every key could do before scopes existed. */
export const DEFAULT_SCOPES: readonly Scope[] = SCOPES;

// An enum (not a union of literals), so an unknown scope is refused with one
// readable message. It reads as a string: normalizeScopes narrows it.
export const ScopeName = Type.String({ enum: [...SCOPES] });

const MEANING =
  "secrets (/api/user/secrets*), responders (/api/webhooks/responders*), trackers (/api/web_scraping/*), " +
  "secrets:grant (give scripts and templates access to secrets: create or widen an access setting, or change the script or target of one that grants any), " +
  "scripts (/api/user/scripts*), tags (/api/user/tags*)";

/** A list of scopes in a request body; `what` says what the list does there. */
export const ScopeList = (what: string) =>
  Type.Array(ScopeName, { minItems: 1, uniqueItems: true, description: `${what}: ${MEANING}` });

export const DEFAULT_SCOPES_TEXT = DEFAULT_SCOPES.join(", ");

/**
 * Scopes as stored: known names only (the schema already refused others), in
 * the canonical order, so a key's list reads the same however it was asked for.
 */
export function normalizeScopes(scopes: readonly string[] | undefined): Scope[] {
  const asked = new Set<string>(scopes ?? DEFAULT_SCOPES);
  return SCOPES.filter((s) => asked.has(s));
}

/** Scopes read back from a row; a name this version does not know grants nothing. */
export function scopesFromRow(names: readonly string[]): ReadonlySet<Scope> {
  return new Set(SCOPES.filter((s) => names.includes(s)));
}
