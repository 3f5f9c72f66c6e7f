import { invalid } from "../../common/errors.js";
import type { ResponderRecord } from "./store.js";

// RFC 9110 token characters: what a header name may be made of.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Tab, visible ASCII and obs-text (one byte each): what Node will put on the
// wire. Node refuses anything above U+00FF only when it writes the head, which
// for a webhook is after the reply was handed over, so it is refused here.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export const isHeaderName = (s: string) => TOKEN.test(s);
export const isHeaderValue = (s: string) => FIELD_VALUE.test(s);

/** Rules a JSON schema cannot say; messages name the field, never a value. */
export function checkResponder(r: Pick<ResponderRecord, "location" | "settings">): void {
  const { path, subdomainPrefix } = r.location;
  if (!path.startsWith("/")) throw invalid("location.path must start with '/'");
  if (path.length > 1 && path.endsWith("/")) throw invalid("location.path must not end with '/' (except '/' itself)");
  if (/[\s?#]/.test(path)) throw invalid("location.path must not contain spaces, '?' or '#'");
  if (subdomainPrefix !== undefined && !DNS_LABEL.test(subdomainPrefix)) {
    throw invalid("location.subdomainPrefix must be a DNS label: lowercase letters, digits and '-', not starting or ending with '-'");
  }
  for (const [i, [name, value]] of r.settings.headers.entries()) {
    if (!isHeaderName(name)) throw invalid(`settings.headers[${i}] has an invalid header name`);
    if (!isHeaderValue(value)) {
      throw invalid(`settings.headers[${i}] has an invalid header value (control characters and characters above U+00FF are not allowed)`);
    }
  }
  if (r.settings.script !== undefined && r.settings.script.trim() === "") throw invalid("settings.script must not be empty");
}

/**
 * The reference's rule for settings being written: notifications are about
 * new entries in the history, so they need one kept. Checked only when the
 * settings are sent, so that a responder saved before the rule can still be
 * renamed.
 */
export function checkNotificationsTracked(settings: Pick<ResponderRecord["settings"], "notifications" | "requestsToTrack">): void {
  if (settings.notifications !== undefined && settings.requestsToTrack === 0) {
    throw invalid("settings.notifications need request tracking: set settings.requestsToTrack above 0, or notifications to null");
  }
}

const PLACEHOLDER_START = "${secrets.";

/** Whether a static value names a secret (`${secrets.KEY}`), to be expanded when served. */
export const hasPlaceholder = (s: string) => s.includes(PLACEHOLDER_START);
