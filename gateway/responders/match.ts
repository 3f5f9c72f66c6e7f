import type { ResponderRecord } from "./store.js";

/**
 * Picks the responder for a request among one user's enabled responders: the
 * longest matching location wins, an exact location beats a prefix of the
 * same length, and a named method beats ANY. Paths compare case-insensitively;
 * a prefix location matches any path that starts with it.
 */
export function matchResponder(
  responders: readonly ResponderRecord[],
  req: { prefix: string; method: string; path: string },
): ResponderRecord | undefined {
  const path = req.path.toLowerCase();
  const method = req.method.toUpperCase();
  let best: ResponderRecord | undefined;
  let bestScore = -1;
  for (const r of responders) {
    if ((r.location.subdomainPrefix ?? "") !== req.prefix) continue;
    if (r.method !== "ANY" && r.method !== method) continue;
    const loc = r.location.path.toLowerCase();
    const exact = r.location.pathType === "=";
    if (exact ? path !== loc : !path.startsWith(loc)) continue;
    const score = loc.length * 4 + (exact ? 2 : 0) + (r.method === "ANY" ? 0 : 1);
    if (score > bestScore) {
      best = r;
      bestScore = score;
    }
  }
  return best;
}
