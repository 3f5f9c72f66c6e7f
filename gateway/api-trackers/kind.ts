import { sameJson } from "../grants/widening.js";
import { API_TRACKERS } from "../trackers/kinds.js";
import type { TrackerKindDef, TrackersService } from "../trackers/service.js";
import type { TrackerRecord } from "../trackers/store.js";
import { checkApiTarget } from "./rules.js";
import type { ApiTargetInput, ApiTargetView, TargetMethod } from "./schemas.js";

/** The request a tracker sends, as kept in the `target` json column. */
export interface RequestTarget {
  url: string;
  method: string;
  headers: Record<string, string>;
  /** Any JSON value; absent means no body (a JSON null is a value and is kept as one). */
  body?: unknown;
  mediaType?: string;
  acceptStatuses?: number[];
  /** Kept only when true. */
  acceptInvalidCertificates?: boolean;
}

/** An API tracker's target as kept: the request, and the scripts in columns of their own. */
export interface ApiTarget extends RequestTarget {
  configurator?: string;
  extractor?: string;
}

export type ApiTrackerRecord = TrackerRecord<ApiTarget>;
export type ApiTrackersService = TrackersService<ApiTargetInput, ApiTarget, ApiTargetView, Row>;

interface Row {
  target: RequestTarget;
  configurator: string | null;
  extractor: string | null;
}

// Only the known keys, and `body` only when present: JSON.stringify drops an
// undefined value, while a null body stays a key holding null.
function requestJson(t: RequestTarget): string {
  return JSON.stringify({
    url: t.url,
    method: t.method,
    headers: t.headers,
    ...(t.body === undefined ? {} : { body: t.body }),
    ...(t.mediaType === undefined ? {} : { mediaType: t.mediaType }),
    ...(t.acceptStatuses === undefined ? {} : { acceptStatuses: t.acceptStatuses }),
    ...(t.acceptInvalidCertificates ? { acceptInvalidCertificates: true } : {}),
  });
}

export const API_TRACKER_KIND: TrackerKindDef<ApiTargetInput, ApiTarget, ApiTargetView, Row> = {
  kind: API_TRACKERS,
  columns: {
    // json, not jsonb: the body is sent with its keys in the order the user wrote them.
    columns: [{ name: "target", cast: "json" }, { name: "configurator" }, { name: "extractor" }],
    values: (t) => [requestJson(t), t.configurator ?? null, t.extractor ?? null],
    fromRow: (r) => ({
      ...r.target,
      ...(r.configurator === null ? {} : { configurator: r.configurator }),
      ...(r.extractor === null ? {} : { extractor: r.extractor }),
    }),
  },
  checkTarget: checkApiTarget,
  stored: (t) => ({
    url: t.url,
    method: t.method ?? "GET",
    headers: t.headers ?? {},
    // A null body is no body: the tracker sends nothing rather than the text "null".
    ...(t.body === undefined || t.body === null ? {} : { body: t.body }),
    ...(t.mediaType === undefined ? {} : { mediaType: t.mediaType }),
    ...(t.acceptStatuses === undefined ? {} : { acceptStatuses: t.acceptStatuses }),
    ...(t.acceptInvalidCertificates ? { acceptInvalidCertificates: true } : {}),
    ...(t.configurator === undefined ? {} : { configurator: t.configurator }),
    ...(t.extractor === undefined ? {} : { extractor: t.extractor }),
  }),
  // Defaults stay explicit (method), absent options stay absent.
  view: (t) => ({
    url: t.url,
    // The store keeps a plain string; only `stored` writes it, from the schema's list.
    method: t.method as TargetMethod,
    ...(Object.keys(t.headers).length === 0 ? {} : { headers: t.headers }),
    ...(t.body === undefined || t.body === null ? {} : { body: t.body }),
    ...(t.mediaType === undefined ? {} : { mediaType: t.mediaType }),
    ...(t.acceptStatuses === undefined ? {} : { acceptStatuses: t.acceptStatuses }),
    ...(t.acceptInvalidCertificates ? { acceptInvalidCertificates: true } : {}),
    ...(t.configurator === undefined ? {} : { configurator: t.configurator }),
    ...(t.extractor === undefined ? {} : { extractor: t.extractor }),
  }),
  // The scripts get the secrets, and the request is what they send them to
  // (skipping certificate checks lets another party read it).
  sameRecipients: (a, b) => sameJson(a, b),
};
