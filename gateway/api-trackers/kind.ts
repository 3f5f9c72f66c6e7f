import { sameJson } from "../grants/widening.js";
import { API_TRACKERS } from "../trackers/kinds.js";
import type { TrackerKindDef, TrackersService } from "../trackers/service.js";
import type { TrackerRecord } from "../trackers/store.js";
import { checkApiTarget, requestsOf, storedRequest, type StoredRequest } from "./rules.js";
import type { ApiTargetInput, ApiTargetView, TargetMethod, TargetRequestView } from "./schemas.js";

/** A request a tracker sends, as kept in the `target` json column (and in `more_requests`). */
export type RequestTarget = StoredRequest;

/** An API tracker's target as kept: its first request, the ones after it, and the scripts in columns of their own. */
export interface ApiTarget extends RequestTarget {
  /** target.requests[1..], sent after the first in order; absent when there is one request. */
  more?: RequestTarget[];
  configurator?: string;
  extractor?: string;
}

export type ApiTrackerRecord = TrackerRecord<ApiTarget>;
export type ApiTrackersService = TrackersService<ApiTargetInput, ApiTarget, ApiTargetView, Row>;

interface Row {
  target: RequestTarget;
  more_requests: RequestTarget[] | null;
  configurator: string | null;
  extractor: string | null;
}

// Only the known keys, and `body` only when present: JSON.stringify drops an
// undefined value, while a null body stays a key holding null.
function requestJson(t: RequestTarget): RequestTarget {
  return {
    url: t.url,
    method: t.method,
    headers: t.headers,
    ...(t.body === undefined ? {} : { body: t.body }),
    ...(t.mediaType === undefined ? {} : { mediaType: t.mediaType }),
    ...(t.acceptStatuses === undefined ? {} : { acceptStatuses: t.acceptStatuses }),
    ...(t.acceptInvalidCertificates ? { acceptInvalidCertificates: true } : {}),
  };
}

// Defaults stay explicit (method), absent options stay absent.
function requestView(t: RequestTarget): TargetRequestView {
  return {
    url: t.url,
    // The store keeps a plain string; only `stored` writes it, from the schema's list.
    method: t.method as TargetMethod,
    ...(Object.keys(t.headers).length === 0 ? {} : { headers: t.headers }),
    ...(t.body === undefined || t.body === null ? {} : { body: t.body }),
    ...(t.mediaType === undefined ? {} : { mediaType: t.mediaType }),
    ...(t.acceptStatuses === undefined ? {} : { acceptStatuses: t.acceptStatuses }),
    ...(t.acceptInvalidCertificates ? { acceptInvalidCertificates: true } : {}),
  };
}

/** Every request of a target, in the order they are sent. */
export function requestsOfTarget(t: ApiTarget): RequestTarget[] {
  return [t, ...(t.more ?? [])];
}

export const API_TRACKER_KIND: TrackerKindDef<ApiTargetInput, ApiTarget, ApiTargetView, Row> = {
  kind: API_TRACKERS,
  columns: {
    // json, not jsonb: the body is sent with its keys in the order the user wrote them.
    columns: [{ name: "target", cast: "json" }, { name: "more_requests", cast: "json" }, { name: "configurator" }, { name: "extractor" }],
    values: (t) => [
      JSON.stringify(requestJson(t)),
      t.more === undefined ? null : JSON.stringify(t.more.map(requestJson)),
      t.configurator ?? null,
      t.extractor ?? null,
    ],
    fromRow: (r) => ({
      ...r.target,
      ...(r.more_requests === null ? {} : { more: r.more_requests }),
      ...(r.configurator === null ? {} : { configurator: r.configurator }),
      ...(r.extractor === null ? {} : { extractor: r.extractor }),
    }),
  },
  checkTarget: checkApiTarget,
  stored: (t) => {
    const [first, ...more] = requestsOf(t).map(storedRequest);
    return {
      ...first!,
      ...(more.length === 0 ? {} : { more }),
      ...(t.configurator === undefined || t.configurator === null ? {} : { configurator: t.configurator }),
      ...(t.extractor === undefined || t.extractor === null ? {} : { extractor: t.extractor }),
    };
  },
  view: (t) => ({
    ...requestView(t),
    // The reference shows the first request only; the others are not hidden.
    ...(t.more === undefined ? {} : { requests: requestsOfTarget(t).map(requestView) }),
    ...(t.configurator === undefined ? {} : { configurator: t.configurator }),
    ...(t.extractor === undefined ? {} : { extractor: t.extractor }),
  }),
  // The scripts get the secrets, and the requests are what they send them to
  // (skipping certificate checks lets another party read it).
  sameRecipients: (a, b) => sameJson(a, b),
};
