import { Type } from "@sinclair/typebox";
import { UnixSeconds } from "../http/schemas.js";

export const HistoryRequest = Type.Object(
  { refresh: Type.Optional(Type.Boolean({ description: "Run the tracker now before answering" })) },
  { additionalProperties: false },
);

const revision = ($id: string) =>
  Type.Object(
  {
    id: Type.String(),
    trackerId: Type.String({ format: "uuid" }),
    data: Type.Object({
      original: Type.Unknown({ description: "The extracted content: parsed JSON, else text, else base64 of the bytes" }),
    }),
    createdAt: UnixSeconds,
  },
  { $id },
);

const Stage = Type.Object({
  stage: Type.Union([Type.Literal("configurator"), Type.Literal("request"), Type.Literal("extractor"), Type.Literal("sandbox")]),
  ok: Type.Boolean(),
  durationMs: Type.Integer(),
  summary: Type.Optional(Type.String({ description: "What the stage did, e.g. the requests sent and their statuses" })),
  errorKind: Type.Optional(Type.String({ description: "time_limit, memory_limit, script_error, upstream_failure, url_not_allowed, ..." })),
  message: Type.Optional(Type.String()),
  logs: Type.Optional(Type.Array(Type.String(), { description: "The script's console output; secret values are masked" })),
});

const runLog = ($id: string) =>
  Type.Object(
  {
    id: Type.String(),
    trackerId: Type.String({ format: "uuid" }),
    trigger: Type.Union([Type.Literal("schedule"), Type.Literal("manual")]),
    outcome: Type.Union([Type.Literal("ok"), Type.Literal("failed")]),
    stages: Type.Array(Stage),
    revisionId: Type.Optional(Type.String({ description: "The revision this run stored, when the content changed" })),
    startedAt: UnixSeconds,
    finishedAt: UnixSeconds,
    durationMs: Type.Integer(),
    // The reference's execution-log fields, from the same run.
    status: Type.Union([Type.Literal("success"), Type.Literal("failure")], { description: "outcome, in the reference's words" }),
    isManual: Type.Boolean({ description: "trigger is manual" }),
    error: Type.Optional(Type.String({ description: "The failed stage and its message; secret values masked" })),
    hasChanges: Type.Optional(Type.Boolean({ description: "Successful runs: whether the content differed from the newest revision" })),
    revisionSize: Type.Optional(Type.Integer({ description: "Successful runs: the extracted content's size in bytes, changed or not" })),
    phases: Type.Array(
      Type.Object({
        phase: Type.String({ description: "The stage's name" }),
        durationMs: Type.Integer(),
        status: Type.Union([Type.Literal("success"), Type.Literal("failure")]),
      }),
      { description: "stages, in the reference's shape" },
    ),
  },
  { $id },
);

// One pair of named schemas per kind, so each kind's OpenAPI operations name their own.
export const ApiTrackerRevision = revision("ApiTrackerRevision");
export const ApiTrackerRunLog = runLog("ApiTrackerRunLog");
export const PageTrackerRevision = revision("PageTrackerRevision");
export const PageTrackerRunLog = runLog("PageTrackerRunLog");
