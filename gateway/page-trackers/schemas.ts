import { Type, type Static } from "@sinclair/typebox";
import { AccessSetting } from "../grants/access.js";
import { UnixSeconds } from "../http/schemas.js";
import { TrackerConfig, TrackerConfigView, TrackerName, TrackerParams, TrackerScript } from "../trackers/schemas.js";

// Unknown fields are refused, as in an API tracker's target: a misspelt
// "acceptInvalidCertificates" must not save a tracker that fails on the certificate.
const Target = Type.Object(
  {
    extractor: TrackerScript("Script `execute(page, context)` that reduces the page to the content kept as a revision"),
    acceptInvalidCertificates: Type.Optional(
      Type.Boolean({ default: false, description: "Load the page even when its TLS certificate does not verify" }),
    ),
  },
  { additionalProperties: false },
);

export const CreatePageTracker = Type.Object({
  name: TrackerName,
  enabled: Type.Optional(Type.Boolean({ default: true })),
  config: TrackerConfig,
  target: Target,
  secrets: Type.Optional(AccessSetting),
});
export type CreatePageTracker = Static<typeof CreatePageTracker>;

/** Any subset of the fields; `config` and `target`, when present, replace the old ones whole. */
export const UpdatePageTracker = Type.Object({
  name: Type.Optional(TrackerName),
  enabled: Type.Optional(Type.Boolean()),
  config: Type.Optional(TrackerConfig),
  target: Type.Optional(Target),
  secrets: Type.Optional(AccessSetting),
});
export type UpdatePageTracker = Static<typeof UpdatePageTracker>;

export const PageTracker = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    name: Type.String(),
    enabled: Type.Boolean(),
    config: TrackerConfigView,
    target: Type.Object({
      extractor: Type.String(),
      acceptInvalidCertificates: Type.Boolean(),
    }),
    secrets: Type.Ref(AccessSetting),
    createdAt: UnixSeconds,
    updatedAt: UnixSeconds,
  },
  { $id: "PageTracker" },
);
export type PageTracker = Static<typeof PageTracker>;

export const PageTrackerParams = TrackerParams;
