import type { StoredAccess } from "./access.js";

/** An access setting about to be saved, and what it was before. */
export interface AccessChange {
  /** What the setting belongs to, as the audit trail names it: "responder:<id>", or the kind alone for a new one. */
  consumer: string;
  /** "none" for one being created. */
  before: StoredAccess;
  after: StoredAccess;
  /**
   * Whether what receives the secrets changes: a responder's script or static
   * values (templates), a tracker's target or scripts. New code under an
   * unchanged setting reads the same secrets as a widened setting would.
   */
  recipientsChanged: boolean;
}

export const NO_ACCESS: StoredAccess = { mode: "none", ids: [] };

/** What a change would give scripts or templates that they did not have: every secret, some ids, or nothing. */
export function newlyGranted(c: AccessChange): { all: true } | { all: false; ids: string[] } | undefined {
  const { before, after } = c;
  if (after.mode === "none") return undefined;
  if (c.recipientsChanged || before.mode === "none") return after.mode === "all" ? { all: true } : { all: false, ids: after.ids };
  if (after.mode === "all") return before.mode === "all" ? undefined : { all: true };
  // From here `after` selects ids: every one of them is within "all".
  if (before.mode === "all") return undefined;
  const had = new Set(before.ids);
  const added = after.ids.filter((id) => !had.has(id));
  return added.length > 0 ? { all: false, ids: added } : undefined;
}

/** Whether two JSON values are equal, whatever the order of their keys (jsonb does not keep it). */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "undefined";
}
