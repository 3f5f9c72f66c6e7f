import { invalid } from "../../common/errors.js";
import { sameJson } from "../grants/widening.js";
import { isHeaderName, isHeaderValue } from "../responders/rules.js";
import { checkScript, checkText } from "../trackers/rules.js";
import { BODY_MAX_BYTES, type ApiTargetInput, type TargetRequestInput } from "./schemas.js";

const HEADER_NAME_MAX_CHARS = 256;
// Deep enough for any real request body, shallow enough for Postgres to parse as jsonb.
const BODY_MAX_DEPTH = 64;

/** The request fields a target may carry itself (its first request, in the reference's form). */
const FLAT_FIELDS = ["url", "method", "headers", "body", "mediaType", "acceptStatuses", "acceptInvalidCertificates"] as const;

/** A request as kept: defaults filled in, absent options (and a null body) left out. */
export interface StoredRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: unknown;
  mediaType?: string;
  acceptStatuses?: number[];
  acceptInvalidCertificates?: boolean;
}

export function storedRequest(r: Partial<TargetRequestInput>): StoredRequest {
  return {
    url: r.url ?? "",
    method: r.method ?? "GET",
    headers: r.headers ?? {},
    // A null body is no body: the tracker sends nothing rather than the text "null".
    ...(r.body === undefined || r.body === null ? {} : { body: r.body }),
    ...(r.mediaType === undefined ? {} : { mediaType: r.mediaType }),
    ...(r.acceptStatuses === undefined ? {} : { acceptStatuses: r.acceptStatuses }),
    ...(r.acceptInvalidCertificates ? { acceptInvalidCertificates: true } : {}),
  };
}

function flatRequest(t: ApiTargetInput): Partial<TargetRequestInput> | undefined {
  if (FLAT_FIELDS.every((f) => t[f] === undefined)) return undefined;
  const { requests: _requests, configurator: _c, extractor: _e, ...flat } = t;
  return flat;
}

/** The target's requests in order, whichever form it was sent in (checked by `checkApiTarget`). */
export function requestsOf(t: ApiTargetInput): Partial<TargetRequestInput>[] {
  return t.requests ?? [flatRequest(t) ?? {}];
}

/** Rules a JSON schema cannot say; messages name the field (or header name), never a value. */
export function checkApiTarget(t: ApiTargetInput): void {
  const flat = flatRequest(t);
  if (t.requests === undefined) {
    if (t.url === undefined) throw invalid("target.url or target.requests is required");
    checkRequest("target", t);
  } else {
    t.requests.forEach((r, i) => checkRequest(`target.requests[${i}]`, r));
    // An answer carries both forms; sent back, they must agree.
    if (flat && !sameJson(storedRequest(flat), storedRequest(t.requests[0]!))) {
      throw invalid("target.url (with method, headers, body, ...) and target.requests[0] describe different requests: send one form, or both alike");
    }
    // The sandbox judges every response by one list: the tracker's.
    const statuses = t.requests[0]!.acceptStatuses;
    t.requests.forEach((r, i) => {
      if (i > 0 && r.acceptStatuses !== undefined && !sameJson(r.acceptStatuses, statuses)) {
        throw invalid(`target.requests[${i}].acceptStatuses must be absent or those of target.requests[0]: they apply to every request`);
      }
    });
  }
  for (const field of ["configurator", "extractor"] as const) {
    const script = t[field];
    if (script !== undefined && script !== null) checkScript(`target.${field}`, script);
  }
}

function checkRequest(at: string, r: Partial<TargetRequestInput>): void {
  const url = r.url ?? "";
  checkText(`${at}.url`, url);
  if (!isHttpUrl(url)) throw invalid(`${at}.url must be an absolute http or https URL`);
  for (const [name, value] of Object.entries(r.headers ?? {})) {
    if (name.length > HEADER_NAME_MAX_CHARS) throw invalid(`${at}.headers has a name longer than ${HEADER_NAME_MAX_CHARS} characters`);
    // Not quoted: an invalid name is often a whole "Name: value" line, value included.
    if (!isHeaderName(name)) throw invalid(`${at}.headers has an invalid header name (only RFC 9110 token characters are allowed)`);
    // The sandbox sends requests with Node, which refuses a control character or one above
    // U+00FF in a header value: saved, such a value would only fail every run at its request stage.
    if (!isHeaderValue(value)) {
      throw invalid(`${at}.headers[${JSON.stringify(name)}] has an invalid value (control characters and characters above U+00FF are not allowed)`);
    }
  }
  if (r.body !== undefined && r.body !== null) checkBody(`${at}.body`, r.body);
  // The media type becomes the Content-Type header of the request.
  if (r.mediaType !== undefined && !isHeaderValue(r.mediaType)) {
    throw invalid(`${at}.mediaType must not contain control characters or characters above U+00FF`);
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

function checkBody(field: string, body: unknown): void {
  // Iterative, and before JSON.stringify (which recurses): a deeply nested body
  // must be refused, not exhaust the stack.
  const pending: [unknown, number][] = [[body, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [value, depth] = next;
    if (typeof value === "string") {
      checkText(field, value);
    } else if (typeof value === "object" && value !== null) {
      if (depth > BODY_MAX_DEPTH) throw invalid(`${field} must not be nested more than ${BODY_MAX_DEPTH} levels deep`);
      for (const [key, item] of Object.entries(value)) {
        if (!Array.isArray(value)) checkText(field, key);
        pending.push([item, depth + 1]);
      }
    }
  }
  if (Buffer.byteLength(JSON.stringify(body), "utf8") > BODY_MAX_BYTES) {
    throw invalid(`${field} must be at most ${BODY_MAX_BYTES} bytes as JSON`);
  }
}
