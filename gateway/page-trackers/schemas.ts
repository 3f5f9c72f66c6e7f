import { Type, type Static } from "@sinclair/typebox";
import { TrackerScript, trackerSchemas } from "../trackers/schemas.js";

export const USER_AGENT_MAX_CHARS = 1024;
export const ENGINES = ["chromium", "camoufox"] as const;

const Engine = Type.Object(
  { type: Type.Union(ENGINES.map((e) => Type.Literal(e))) },
  {
    additionalProperties: false,
    description: "The reference's browser engine. Stored and returned; every run here uses Chromium",
  },
);

// Unknown fields are refused, as in an API tracker's target: a misspelt
// "acceptInvalidCertificates" must not save a tracker that fails on the certificate.
export const PageTarget = Type.Object(
  {
    extractor: TrackerScript("Script `execute(page, context)` that reduces the page to the content kept as a revision"),
    acceptInvalidCertificates: Type.Optional(
      // No schema default: filled in, it would hide an ignoreHttpsErrors sent instead.
      Type.Boolean({ description: "Load the page even when its TLS certificate does not verify; false when absent" }),
    ),
    ignoreHttpsErrors: Type.Optional(
      Type.Boolean({ description: "Playwright's name for acceptInvalidCertificates (the skill document's); when both are given they must agree" }),
    ),
    userAgent: Type.Optional(
      Type.Union([Type.String({ minLength: 1, maxLength: USER_AGENT_MAX_CHARS }), Type.Null()], {
        description: "The browser's User-Agent for this tracker's runs; null or absent keeps Chromium's own",
      }),
    ),
    engine: Type.Optional(Type.Union([Engine, Type.Null()])),
  },
  { additionalProperties: false },
);
export type PageTargetInput = Static<typeof PageTarget>;
export type PageEngine = Static<typeof Engine>;

export const PageTargetView = Type.Object({
  extractor: Type.String(),
  acceptInvalidCertificates: Type.Boolean(),
  ignoreHttpsErrors: Type.Boolean({ description: "The same flag under the skill document's name" }),
  userAgent: Type.Optional(Type.String()),
  engine: Type.Optional(Type.Object({ type: Type.String() })),
});
export type PageTargetView = Static<typeof PageTargetView>;

export const PageTrackerSchemas = trackerSchemas({ operation: "PageTracker", target: PageTarget, targetView: PageTargetView });
