/**
 * A URL as run reports show it: scheme, host and path. The query string and
 * user info are left out: either may hold a credential.
 */
export function displayUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return u.protocol === "http:" || u.protocol === "https:" ? `${u.protocol}//${u.host}${u.pathname}` : u.protocol;
  } catch {
    return "(malformed URL)";
  }
}
