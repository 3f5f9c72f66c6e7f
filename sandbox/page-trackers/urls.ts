import type { OutboundPolicy } from "../outbound/policy.js";
import { checkDestination, type LookupFunction } from "../outbound/request.js";
import { OutboundError } from "../outbound/types.js";

/**
 * Refuses a URL `page.goto` may not load, with the outbound policy's own
 * reasons, before the browser tries it. The browser's proxy enforces the
 * same policy on every connection (redirects and sub-resources too); this
 * only gives the script a clear answer instead of a browser network error.
 */
export async function checkPageUrl(raw: string, policy: OutboundPolicy, lookup?: LookupFunction): Promise<void> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundError("url_not_allowed", "invalid URL (page.goto takes an absolute http or https URL)");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new OutboundError("url_not_allowed", `URL scheme ${url.protocol} not allowed: only http: and https:`);
  }
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  await checkDestination(url.hostname, port, policy, lookup);
}
