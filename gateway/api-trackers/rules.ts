import { invalid } from "../../common/errors.js";
import { isHeaderName, isHeaderValue } from "../responders/rules.js";
import { checkScript, checkText } from "../trackers/rules.js";
import { BODY_MAX_BYTES, type ApiTargetInput } from "./schemas.js";

const HEADER_NAME_MAX_CHARS = 256;
// Deep enough for any real request body, shallow enough for Postgres to parse as jsonb.
const BODY_MAX_DEPTH = 64;

/** Rules a JSON schema cannot say; messages name the field (or header name), never a value. */
export function checkApiTarget(t: ApiTargetInput): void {
  checkText("target.url", t.url);
  if (!isHttpUrl(t.url)) throw invalid("target.url must be an absolute http or https URL");
  for (const [name, value] of Object.entries(t.headers ?? {})) {
    if (name.length > HEADER_NAME_MAX_CHARS) throw invalid(`target.headers has a name longer than ${HEADER_NAME_MAX_CHARS} characters`);
    // Not quoted: an invalid name is often a whole "Name: value" line, value included.
    if (!isHeaderName(name)) throw invalid("target.headers has an invalid header name (only RFC 9110 token characters are allowed)");
    // The sandbox sends requests with Node, which refuses a control character or one above
    // U+00FF in a header value: saved, such a value would only fail every run at its request stage.
    if (!isHeaderValue(value)) {
      throw invalid(`target.headers[${JSON.stringify(name)}] has an invalid value (control characters and characters above U+00FF are not allowed)`);
    }
  }
  if (t.body !== undefined && t.body !== null) checkBody(t.body);
  // The media type becomes the Content-Type header of the request.
  if (t.mediaType !== undefined && !isHeaderValue(t.mediaType)) {
    throw invalid("target.mediaType must not contain control characters or characters above U+00FF");
  }
  for (const field of ["configurator", "extractor"] as const) {
    const script = t[field];
    if (script !== undefined) checkScript(`target.${field}`, script);
  }
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}

function checkBody(body: unknown): void {
  // Iterative, and before JSON.stringify (which recurses): a deeply nested body
  // must be refused, not exhaust the stack.
  const pending: [unknown, number][] = [[body, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [value, depth] = next;
    if (typeof value === "string") {
      checkText("target.body", value);
    } else if (typeof value === "object" && value !== null) {
      if (depth > BODY_MAX_DEPTH) throw invalid(`target.body must not be nested more than ${BODY_MAX_DEPTH} levels deep`);
      for (const [key, item] of Object.entries(value)) {
        if (!Array.isArray(value)) checkText("target.body", key);
        pending.push([item, depth + 1]);
      }
    }
  }
  if (Buffer.byteLength(JSON.stringify(body), "utf8") > BODY_MAX_BYTES) {
    throw invalid(`target.body must be at most ${BODY_MAX_BYTES} bytes as JSON`);
  }
}
