import { Type, type Static } from "@sinclair/typebox";
import type { ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import type { AccessSetting } from "../grants/access.js";
import type { GrantCheck } from "../grants/grant-guard.js";
import { DebugCommon, debugRequestSchema, type DebugOutcome, type DebugRuns } from "../trackers/debug.js";
import type { StageLog } from "../trackers/runs-store.js";
import type { ApiTrackersService } from "./kind.js";
import { runApiTarget, type RunSettings } from "./sandbox-run.js";
import { ApiTarget as ApiTargetSchema, type ApiTargetInput } from "./schemas.js";

export const ApiTrackerDebugRequest = debugRequestSchema(ApiTargetSchema);

const ScriptStage = Type.Object({
  durationMs: Type.Integer(),
  result: Type.Optional(Type.Unknown({ description: "Configurator: what it returned ({type, count}); extractor: the extracted content" })),
  error: Type.Optional(Type.String()),
  logs: Type.Optional(Type.Array(Type.String(), { description: "The script's console output; secret values masked" })),
});

const RequestStage = Type.Object({
  index: Type.Integer(),
  source: Type.Union([Type.Literal("original"), Type.Literal("configurator")], { description: "The target's own request, or one the configurator returned" }),
  url: Type.Optional(Type.String({ description: "Scheme, host and path only: a query string or user info may hold a credential" })),
  method: Type.Optional(Type.String()),
  statusCode: Type.Optional(Type.Integer()),
  responseBodyRawSize: Type.Optional(Type.Integer()),
  durationMs: Type.Optional(Type.Integer({ description: "Given when the run sent one request; the request stage's time otherwise covers them all" })),
  error: Type.Optional(Type.String()),
});

export const ApiTrackerDebugResult = Type.Object(
  {
    ...DebugCommon,
    target: Type.Object({
      type: Type.Literal("api"),
      configurator: Type.Optional(ScriptStage),
      requests: Type.Array(RequestStage),
      extractor: Type.Optional(ScriptStage),
    }),
  },
  { $id: "ApiTrackerDebugResult", description: "One run of the whole pipeline; nothing was stored" },
);
export type ApiTrackerDebugResult = Static<typeof ApiTrackerDebugResult>;
type RequestInfo = Static<typeof RequestStage>;

/** `_debug` of an API tracker: configurator, request and extractor once, each stage's outcome and timing back. */
export function apiTrackerDebug(deps: {
  runs: DebugRuns;
  service: ApiTrackersService;
  sandbox: ScriptRunnerClient;
  settings: RunSettings;
}) {
  return async (
    userId: string,
    input: { target: ApiTargetInput; secrets?: AccessSetting; config?: { timeout?: number } },
    check?: GrantCheck,
  ): Promise<ApiTrackerDebugResult> => {
    const outcome = await deps.runs.run(deps.service, userId, input, check, (target, grant) =>
      runApiTarget(deps.sandbox, deps.settings, { userId, target, grant, timeoutMs: input.config?.timeout }),
    );
    return { ...outcome, target: pipeline(outcome) };
  };
}

function pipeline(o: DebugOutcome): ApiTrackerDebugResult["target"] {
  const configurator = o.stages.find((s) => s.stage === "configurator");
  const request = o.stages.find((s) => s.stage === "request");
  const extractor = o.stages.find((s) => s.stage === "extractor");
  const returned = configurator && /^returned (\d+) (request|response)/.exec(configurator.summary ?? "");
  return {
    type: "api",
    ...(configurator ? { configurator: scriptStage(configurator, returned ? { type: `${returned[2]}s`, count: Number(returned[1]) } : undefined) } : {}),
    requests: request ? requestsOf(request, returned ? "configurator" : "original") : [],
    ...(extractor ? { extractor: scriptStage(extractor, o.result) } : {}),
  };
}

function scriptStage(s: StageLog, result: unknown): Static<typeof ScriptStage> {
  return {
    durationMs: s.durationMs,
    ...(s.ok && result !== undefined ? { result } : {}),
    ...(s.ok ? {} : { error: s.message ?? "failed" }),
    ...(s.logs ? { logs: s.logs } : {}),
  };
}

// The sandbox's request stage reports one line per response,
// "<METHOD> <url> -> <status>, <n> bytes" (sandbox/api-trackers/run.ts), and a
// failure as "<METHOD> <url>: <why>" or "<METHOD> <url> answered <status>; ...".
const SENT = /^(\S+) (\S+) -> (\d{3}), (\d+) bytes$/;
const FAILED = /^(\S+) (\S+?)(?:: | answered )/;

function requestsOf(stage: StageLog, source: RequestInfo["source"]): RequestInfo[] {
  const requests: RequestInfo[] = [];
  for (const line of (stage.summary ?? "").split("\n")) {
    const m = SENT.exec(line);
    if (m) requests.push({ index: requests.length, source, method: m[1]!, url: m[2]!, statusCode: Number(m[3]), responseBodyRawSize: Number(m[4]) });
  }
  if (!stage.ok) {
    const message = stage.message ?? "failed";
    const m = FAILED.exec(message);
    const last = requests.at(-1);
    // A refused or failed connection has no line of its own; an unaccepted status does.
    if (m && !(last && last.method === m[1] && last.url === m[2] && message.includes(" answered "))) {
      requests.push({ index: requests.length, source, method: m[1]!, url: m[2]!, error: message });
    } else if (last) last.error = message;
    else requests.push({ index: 0, source, error: message });
  }
  if (requests.length === 1) requests[0]!.durationMs = stage.durationMs;
  return requests;
}
