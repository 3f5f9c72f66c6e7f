import type { ResponderRecord } from "../responders/store.js";

// At one location length, an exact location beats a prefix, and a prefix beats
// "*" (the catch-all for a path and everything under it).
const TYPE_RANK: Record<ResponderRecord["location"]["pathType"], number> = { "=": 2, "^": 1, "*": 0 };

/**
 * Whether a location covers a (lower-cased) request path: "=" the path itself,
 * "^" any path that starts with it, "*" the path and any path below it
 * ("/api" covers "/api" and "/api/v1", not "/apis").
 */
function covers(pathType: ResponderRecord["location"]["pathType"], loc: string, path: string): boolean {
  if (pathType === "=") return path === loc;
  if (pathType === "^") return path.startsWith(loc);
  return loc === "/" || path === loc || path.startsWith(`${loc}/`);
}

/**
 * Picks the responder for a request among one user's enabled responders: the
 * longest matching location wins, then the more specific path type, then a
 * named method over ANY. Paths compare case-insensitively.
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
    if (!covers(r.location.pathType, loc, path)) continue;
    const score = loc.length * 8 + TYPE_RANK[r.location.pathType] * 2 + (r.method === "ANY" ? 0 : 1);
    if (score > bestScore) {
      best = r;
      bestScore = score;
    }
  }
  return best;
}
