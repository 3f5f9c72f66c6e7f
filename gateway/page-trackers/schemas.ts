import { Type, type Static } from "@sinclair/typebox";
import { TrackerScript, trackerSchemas } from "../trackers/schemas.js";

// Unknown fields are refused, as in an API tracker's target: a misspelt
// "acceptInvalidCertificates" must not save a tracker that fails on the certificate.
export const PageTarget = Type.Object(
  {
    extractor: TrackerScript("Script `execute(page, context)` that reduces the page to the content kept as a revision"),
    acceptInvalidCertificates: Type.Optional(
      Type.Boolean({ default: false, description: "Load the page even when its TLS certificate does not verify" }),
    ),
  },
  { additionalProperties: false },
);
export type PageTargetInput = Static<typeof PageTarget>;

export const PageTargetView = Type.Object({
  extractor: Type.String(),
  acceptInvalidCertificates: Type.Boolean(),
});
export type PageTargetView = Static<typeof PageTargetView>;

export const PageTrackerSchemas = trackerSchemas({ operation: "PageTracker", target: PageTarget, targetView: PageTargetView });
