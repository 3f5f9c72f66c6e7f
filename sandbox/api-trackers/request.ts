import { DomainError } from "../../common/errors.js";
import { isUuid } from "../../common/ids.js";
import { isObjectShaped } from "../../common/json-shape.js";
import { PREVIOUS_CONTENT_MAX_BYTES } from "../../common/tracker-limits.js";
import type { HttpRequestSpec, RunApiTrackerRequest } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { MAX_SCRIPT_BYTES, resolveLimits, type LimitSettings, type ResolvedLimits } from "../executions/request.js";

/** Requests one run may send, from the target or the configurator. */
export const MAX_REQUESTS = 20;
/** All response bodies of one run together: they are handed to the extractor as JSON. */
export const MAX_RESPONSES_BYTES = 2 * 1024 * 1024;
const MAX_PREVIOUS_CONTENT_BYTES = PREVIOUS_CONTENT_MAX_BYTES.api;

export interface TrackerHttpRequest {
  url: string;
  method: string;
  headers: [string, string][];
  body?: Buffer;
  /** This request alone skips TLS certificate verification (the target's or the configurator's choice). */
  acceptInvalidCertificates: boolean;
  mediaType?: string;
}

export interface ValidTrackerRun {
  userId: string;
  requests: TrackerHttpRequest[];
  configurator?: string;
  extractor?: string;
  previousContentJson?: string;
  grant?: string;
  limits: ResolvedLimits;
  acceptStatuses: Set<number> | undefined;
  requestTimeoutMs: number;
}

/** A request as the proto carries it (from the target or a configurator), as it will be sent. */
export function toTrackerRequest(r: HttpRequestSpec): TrackerHttpRequest {
  const headers = (r.headers?.items ?? []).map((h): [string, string] => [h.name, h.value]);
  if (r.mediaType !== undefined && r.body !== undefined && !headers.some(([name]) => name.toLowerCase() === "content-type")) {
    headers.push(["content-type", r.mediaType]);
  }
  return {
    url: r.url,
    method: (r.method ?? "GET").toUpperCase(),
    headers,
    ...(r.body === undefined ? {} : { body: Buffer.from(r.body) }),
    acceptInvalidCertificates: r.acceptInvalidCertificates === true,
    ...(r.mediaType === undefined ? {} : { mediaType: r.mediaType }),
  };
}

/** Checks a RunApiTracker request at the edge; errors name the field, never its content. */
export function validateTrackerRun(req: RunApiTrackerRequest, settings: LimitSettings): ValidTrackerRun {
  const invalid = (message: string) => new DomainError("invalid", message);
  if (!isUuid(req.userId)) throw invalid("user_id must be a UUID");
  if (req.requests.length > MAX_REQUESTS) throw invalid(`requests must hold at most ${MAX_REQUESTS} items`);
  const script = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    if (value.trim() === "") throw invalid(`${name} must not be empty`);
    if (Buffer.byteLength(value) > MAX_SCRIPT_BYTES) throw invalid(`${name} must be at most ${MAX_SCRIPT_BYTES} bytes`);
    return value;
  };
  if (req.previousContentJson !== undefined) {
    if (Buffer.byteLength(req.previousContentJson) > MAX_PREVIOUS_CONTENT_BYTES) {
      throw invalid(`previous_content_json must be at most ${MAX_PREVIOUS_CONTENT_BYTES} bytes`);
    }
    // Written into the extractor's context text, which its worker parses.
    if (!isObjectShaped(req.previousContentJson)) throw invalid("previous_content_json must be a JSON object");
  }
  for (const s of req.acceptStatuses) {
    if (!Number.isInteger(s) || s < 100 || s > 999) throw invalid("accept_statuses must be from 100 to 999");
  }
  return {
    userId: req.userId,
    requests: req.requests.map(toTrackerRequest),
    configurator: script("configurator", req.configurator),
    extractor: script("extractor", req.extractor),
    previousContentJson: req.previousContentJson,
    grant: req.grant?.token || undefined,
    limits: resolveLimits(req.limits, settings),
    acceptStatuses: req.acceptStatuses.length > 0 ? new Set(req.acceptStatuses) : undefined,
    requestTimeoutMs: req.requestTimeoutMs,
  };
}
