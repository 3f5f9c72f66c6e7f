import { Type, type Static } from "@sinclair/typebox";
import type { ConfiguratorReturn, Headers, ScriptRunnerClient, TrackerExchange } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
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
  result: Type.Optional(
    Type.Unknown({
      description:
        "Configurator: what it returned, {requests: [...]} or {responses: [...]}, each body as the JSON it holds or as text, secret values masked; extractor: the extracted content",
    }),
  ),
  error: Type.Optional(Type.String()),
  logs: Type.Optional(Type.Array(Type.String(), { description: "The script's console output; secret values masked" })),
});

const HeaderMap = Type.Record(Type.String(), Type.String(), { description: "Secret values masked; a name sent twice has its values joined with \", \"" });
const Body = Type.String({ description: "As UTF-8 text, secret values masked, cut to its first 64 KiB" });
const Cut = Type.Optional(Type.Literal(true, { description: "Present when the body is cut" }));

const RequestStage = Type.Object({
  index: Type.Integer(),
  source: Type.Union([Type.Literal("original"), Type.Literal("configurator")], { description: "The target's own request, or one the configurator returned" }),
  url: Type.Optional(Type.String({ description: "Scheme, host and path only: a query string or user info may hold a credential" })),
  method: Type.Optional(Type.String()),
  requestHeaders: Type.Optional(HeaderMap),
  requestBody: Type.Optional(Body),
  requestBodyTruncated: Cut,
  statusCode: Type.Optional(Type.Integer()),
  responseHeaders: Type.Optional(HeaderMap),
  responseBodyRaw: Type.Optional(Body),
  responseBodyRawSize: Type.Optional(Type.Integer({ description: "The whole body's size in bytes, as it came" })),
  responseBodyTruncated: Cut,
  responseBodyParsed: Type.Optional(Type.Unknown({ description: "The body parsed, when the response says JSON and came whole" })),
  durationMs: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.String()),
  // The companion document's names for the same: requests[i].request and .response.
  request: Type.Optional(Type.Object({ method: Type.String(), url: Type.String(), headers: HeaderMap, body: Type.Optional(Body) })),
  response: Type.Optional(Type.Object({ statusCode: Type.Integer(), headers: HeaderMap, body: Body })),
});

const Pipeline = {
  configurator: Type.Optional(ScriptStage),
  requests: Type.Array(RequestStage),
  extractor: Type.Optional(ScriptStage),
};

export const ApiTrackerDebugResult = Type.Object(
  {
    ...DebugCommon,
    target: Type.Object({ type: Type.Literal("api"), ...Pipeline }),
    // The pipeline again at the top, where the web-scraping-api document reads it.
    ...Pipeline,
    requests: Type.Optional(Pipeline.requests),
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
    let exchanges: TrackerExchange[] = [];
    let configured: ConfiguratorReturn | undefined;
    const outcome = await deps.runs.run(deps.service, userId, input, check, async (target, grant) => {
      const answer = await runApiTarget(deps.sandbox, deps.settings, { userId, target, grant, timeoutMs: input.config?.timeout, debug: true });
      exchanges = answer.exchanges;
      configured = answer.configured;
      return answer;
    });
    const target = pipeline(outcome, exchanges, configured);
    const { type: _type, ...stages } = target;
    return { ...outcome, target, ...stages };
  };
}

function pipeline(o: DebugOutcome, exchanges: TrackerExchange[], configured: ConfiguratorReturn | undefined): ApiTrackerDebugResult["target"] {
  const configurator = o.stages.find((s) => s.stage === "configurator");
  const request = o.stages.find((s) => s.stage === "request");
  const extractor = o.stages.find((s) => s.stage === "extractor");
  // What it returned, as the reference shows it (masked in the sandbox); absent when the tracker's own requests went out.
  const returned = configured && (JSON.parse(configured.resultJson) as unknown);
  return {
    type: "api",
    ...(configurator ? { configurator: scriptStage(configurator, returned) } : {}),
    requests: request ? requestsOf(request, exchanges, configured ? "configurator" : "original") : [],
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

/**
 * Each request the sandbox sent, as it recorded it (masked), and the request
 * stage's failure on the request it concerns: the one that failed to be
 * made, else the last answered (a status not accepted, the run's byte limit).
 */
function requestsOf(stage: StageLog, exchanges: TrackerExchange[], source: RequestInfo["source"]): RequestInfo[] {
  const requests = exchanges.map((x, index) => requestInfo(x, index, source));
  if (!stage.ok) {
    const last = requests.at(-1);
    if (!last) requests.push({ index: 0, source, error: stage.message ?? "failed" });
    else last.error ??= stage.message ?? "failed";
  }
  return requests;
}

function requestInfo(x: TrackerExchange, index: number, source: RequestInfo["source"]): RequestInfo {
  const requestHeaders = headerMap(x.requestHeaders);
  const info: RequestInfo = {
    index,
    source,
    url: x.url,
    method: x.method,
    requestHeaders,
    ...(x.requestBody === undefined ? {} : { requestBody: x.requestBody }),
    ...(x.requestBodyCut ? { requestBodyTruncated: true as const } : {}),
    durationMs: x.durationMs,
    ...(x.error === undefined ? {} : { error: x.error }),
    request: { method: x.method, url: x.url, headers: requestHeaders, ...(x.requestBody === undefined ? {} : { body: x.requestBody }) },
  };
  if (x.statusCode === undefined) return info;
  const responseHeaders = headerMap(x.responseHeaders);
  const body = x.responseBody ?? "";
  const parsed = x.responseBodyCut ? undefined : parsedJson(responseHeaders["content-type"], body);
  return {
    ...info,
    statusCode: x.statusCode,
    responseHeaders,
    responseBodyRaw: body,
    responseBodyRawSize: x.responseBodySize,
    ...(x.responseBodyCut ? { responseBodyTruncated: true as const } : {}),
    ...(parsed === undefined ? {} : { responseBodyParsed: parsed.value }),
    response: { statusCode: x.statusCode, headers: responseHeaders, body },
  };
}

function headerMap(headers: Headers | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { name, value } of headers?.items ?? []) {
    const key = name.toLowerCase();
    out[key] = key in out ? `${out[key]}, ${value}` : value;
  }
  return out;
}

/** A body the response says is JSON, parsed; undefined when it is not JSON after all. */
function parsedJson(contentType: string | undefined, body: string): { value: unknown } | undefined {
  if (!contentType || !/[/+]json\b/i.test(contentType)) return undefined;
  try {
    return { value: JSON.parse(body) as unknown };
  } catch {
    return undefined;
  }
}
