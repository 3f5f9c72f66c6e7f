import {
  ErrorKind,
  TrackerStage,
  type ConfiguratorReturn,
  type ExecuteResponse,
  type HttpResponseSpec,
  type RunApiTrackerRequest,
  type RunApiTrackerResponse,
  type ScriptError,
  type StageReport,
} from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import type { SecretsSource } from "../broker/secrets.js";
import type { LimitSettings } from "../executions/request.js";
import type { ExecutionService } from "../executions/service.js";
import type { OutboundPolicy } from "../outbound/policy.js";
import { performOutbound } from "../outbound/request.js";
import { OutboundError } from "../outbound/types.js";
import { OUTBOUND_ERROR_NAMES } from "../executions/proxy.js";
import { errorKindNamed } from "../../common/script-errors.js";
import { maskerFor } from "../broker/mask.js";
import { displayUrl } from "../outbound/display-url.js";
import { resolveScript } from "../outbound/remote-script.js";
import { ExchangeRecorder, jsonOrText } from "./exchanges.js";
import {
  MAX_REQUESTS,
  MAX_RESPONSES_BYTES,
  toTrackerRequest,
  validateTrackerRun,
  type TrackerHttpRequest,
  type ValidTrackerRun,
} from "./request.js";

interface Response {
  statusCode: number;
  headers: Record<string, string>;
  body: Buffer;
}

type Stage = Omit<StageReport, "stage" | "durationMs">;

/**
 * One API tracker run inside the sandbox service: the grant's secrets are
 * opened once and serve both scripts, the requests are sent from here under
 * the outbound policy, and only masked reports (for a debug run, masked
 * exchanges too) and the extracted content leave. The run stops at the
 * first stage that fails.
 */
export class TrackerRunService {
  constructor(
    private readonly executions: ExecutionService,
    private readonly secrets: SecretsSource,
    private readonly outbound: OutboundPolicy,
    private readonly limits: LimitSettings,
  ) {}

  async run(req: RunApiTrackerRequest, signal?: AbortSignal): Promise<RunApiTrackerResponse> {
    const x = validateTrackerRun(req, this.limits);
    const secretsJson = x.grant ? await this.secrets.openAsJson(x.grant, x.userId) : "{}";
    const mask = maskerFor(secretsJson);
    const recorder = req.debug ? new ExchangeRecorder(mask) : undefined;
    const outcome = await this.stages(x, secretsJson, mask, recorder, signal);
    return { ...outcome, exchanges: recorder?.exchanges ?? [] };
  }

  private async stages(
    x: ValidTrackerRun,
    secretsJson: string,
    mask: (text: string) => string,
    recorder: ExchangeRecorder | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Omit<RunApiTrackerResponse, "exchanges">> {
    const stages: StageReport[] = [];
    const timed = async (stage: TrackerStage, fn: () => Promise<Stage>): Promise<Stage> => {
      const started = performance.now();
      const report = await fn();
      stages.push({
        stage,
        durationMs: Math.round(performance.now() - started),
        summary: mask(report.summary),
        error: report.error && { kind: report.error.kind, message: mask(report.error.message) },
        logs: report.logs.map(mask),
        logsTruncated: report.logsTruncated,
      });
      return report;
    };

    let requests = x.requests;
    let responses: Response[] | undefined;
    let configured: ConfiguratorReturn | undefined;
    if (x.configurator !== undefined) {
      const script = x.configurator;
      let outcome: { requests?: TrackerHttpRequest[]; responses?: Response[] } = {};
      const report = await timed(TrackerStage.TRACKER_STAGE_CONFIGURATOR, async () => {
        const res = await this.script(x, "configurator", script, configuratorContext(requests, x.acceptStatuses), secretsJson, signal);
        if (res.error) return scriptStage(res, res.error);
        const c = res.configurator;
        if (c === undefined) return scriptStage(res, scriptError("the configurator's result could not be read"));
        if (c.responses) {
          outcome = { responses: c.responses.items.map(toResponse) };
          return { ...scriptStage(res), summary: `returned ${outcome.responses!.length} response(s); no request was sent` };
        }
        if (c.requests && c.requests.items.length > 0) {
          outcome = { requests: c.requests.items.map(toTrackerRequest) };
          if (outcome.requests!.length > MAX_REQUESTS) {
            return scriptStage(res, scriptError(`the configurator returned more than ${MAX_REQUESTS} requests`));
          }
          return { ...scriptStage(res), summary: `returned ${outcome.requests!.length} request(s)` };
        }
        // null, nothing, or no requests: the tracker's own requests go out (as the reference does it).
        return { ...scriptStage(res), summary: `returned no requests; the tracker's own ${requests.length} request(s) are sent` };
      });
      if (report.error) return { stages };
      if (outcome.requests) requests = outcome.requests;
      responses = outcome.responses;
      if (recorder && (outcome.responses || outcome.requests)) configured = { resultJson: recorder.configured(outcome) };
    }

    if (responses === undefined) {
      const sent: Response[] = [];
      const report = await timed(TrackerStage.TRACKER_STAGE_REQUEST, () => this.send(requests, x, sent, recorder));
      if (report.error) return { stages, configured };
      responses = sent;
    }

    if (x.extractor === undefined) return { stages, configured, content: responsesContent(responses) };
    const script = x.extractor;
    let content: Buffer | undefined;
    const report = await timed(TrackerStage.TRACKER_STAGE_EXTRACTOR, async () => {
      const res = await this.script(x, "extractor", script, extractorContext(responses, x.previousContentJson), secretsJson, signal);
      if (res.error) return scriptStage(res, res.error);
      if (res.extractor === undefined) return scriptStage(res, scriptError("the extractor's result could not be read"));
      if (res.extractor.body === undefined) {
        // null, {} or {body: null}: what the tracker stores without an extractor.
        content = responsesContent(responses);
        return { ...scriptStage(res), summary: `returned no body; the responses' ${content.length} bytes are kept` };
      }
      content = Buffer.from(res.extractor.body);
      return { ...scriptStage(res), summary: `extracted ${content.length} bytes` };
    });
    return report.error ? { stages, configured } : { stages, configured, content };
  }

  /** Runs a script; one saved as a URL is fetched first, and one that cannot be fails its stage as an upstream failure. */
  private async script(
    x: ValidTrackerRun,
    kind: "configurator" | "extractor",
    source: string,
    contextJson: string,
    secretsJson: string,
    signal?: AbortSignal,
  ): Promise<ExecuteResponse> {
    const resolved = await resolveScript(source, this.outbound, x.requestTimeoutMs, kind);
    if ("failure" in resolved) return { error: { kind: ErrorKind.ERROR_KIND_UPSTREAM_FAILURE, message: resolved.failure }, logs: [], logsTruncated: false };
    return this.executions.run({ userId: x.userId, kind, script: resolved.script, contextJson, ...x.limits }, secretsJson, signal);
  }

  /** Sends the requests one after another, as the configurator ordered them. */
  private async send(requests: TrackerHttpRequest[], x: ValidTrackerRun, out: Response[], recorder?: ExchangeRecorder): Promise<Stage> {
    const lines: string[] = [];
    let total = 0;
    const failed = (kind: ErrorKind, message: string): Stage => ({ summary: lines.join("\n"), error: { kind, message }, logs: [], logsTruncated: false });
    for (const r of requests) {
      const where = `${r.method} ${displayUrl(r.url)}`;
      const exchange = recorder?.sent(r);
      let res: Response;
      try {
        res = await performOutbound({ ...r, timeoutMs: x.requestTimeoutMs }, this.outbound);
      } catch (err) {
        const [kind, message] =
          err instanceof OutboundError ? [errorKindNamed(OUTBOUND_ERROR_NAMES[err.kind])!, `${where}: ${err.message}`] : [ErrorKind.ERROR_KIND_UPSTREAM_FAILURE, `${where}: the request failed`];
        exchange?.failed(message);
        return failed(kind, message);
      }
      exchange?.answered(res);
      lines.push(`${where} -> ${res.statusCode}, ${res.body.length} bytes`);
      const accepted = x.acceptStatuses ? x.acceptStatuses.has(res.statusCode) : res.statusCode >= 200 && res.statusCode < 300;
      if (!accepted) {
        const expected = x.acceptStatuses ? [...x.acceptStatuses].join(", ") : "200-299";
        return failed(ErrorKind.ERROR_KIND_UPSTREAM_FAILURE, `${where} answered ${res.statusCode}; accepted: ${expected}`);
      }
      total += res.body.length;
      if (total > MAX_RESPONSES_BYTES) {
        return failed(ErrorKind.ERROR_KIND_UPSTREAM_TOO_LARGE, `the responses of one run may total at most ${MAX_RESPONSES_BYTES} bytes`);
      }
      out.push(res);
    }
    return { summary: lines.join("\n"), logs: [], logsTruncated: false };
  }
}

/**
 * The content when no extractor gives one, as the reference keeps it: the
 * response's body; with several, a JSON array of their bodies, each as the
 * JSON it holds, else as its text.
 */
function responsesContent(responses: Response[]): Buffer {
  if (responses.length <= 1) return responses[0]?.body ?? Buffer.alloc(0);
  return Buffer.from(
    JSON.stringify(
      responses.map((r) => jsonOrText(r.body.toString("utf8"))),
    ),
  );
}

function scriptStage(res: ExecuteResponse, error?: ScriptError): Stage {
  return { summary: "", error, logs: res.logs, logsTruncated: res.logsTruncated };
}

function scriptError(message: string): ScriptError {
  return { kind: ErrorKind.ERROR_KIND_SCRIPT_ERROR, message };
}

function toResponse(r: HttpResponseSpec): Response {
  const headers: Record<string, string> = {};
  for (const h of r.headers?.items ?? []) headers[h.name.toLowerCase()] = h.value;
  return { statusCode: r.statusCode, headers, body: Buffer.from(r.body) };
}

/**
 * The configurator's context as the reference gives it: each request with its
 * `mediaType` and `acceptStatuses` when the tracker has them, and `tags`
 * (always empty, as the extractor's). Headers are an object and bodies byte
 * arrays, as op_proxy_request gives them.
 */
function configuratorContext(requests: TrackerHttpRequest[], acceptStatuses: Set<number> | undefined): string {
  const statuses = acceptStatuses && [...acceptStatuses];
  const list = requests.map((r) => ({
    url: r.url,
    method: r.method,
    headers: Object.fromEntries(r.headers),
    ...(r.body === undefined ? {} : { body: [...r.body] }),
    ...(r.mediaType === undefined ? {} : { mediaType: r.mediaType }),
    ...(statuses === undefined ? {} : { acceptStatuses: statuses }),
    acceptInvalidCertificates: r.acceptInvalidCertificates,
  }));
  return JSON.stringify({ tags: [], requests: list, params: {} });
}

/**
 * The extractor's context as the runtime skill gives it: each response's
 * `status` (the reference's name) and `statusCode` (op_proxy_request's),
 * `tags` (always empty: the reference fills it with its tracker service's own
 * labels, not the user's tags), and the previous revision as `previousContent`,
 * both at the top, where the skill's interface has it, and in `params`, where
 * its table and our earlier releases put it.
 */
function extractorContext(responses: Response[], previousContentJson: string | undefined): string {
  const list = JSON.stringify(
    responses.map((r) => ({ status: r.statusCode, statusCode: r.statusCode, headers: r.headers, body: [...r.body] })),
  );
  if (previousContentJson === undefined) return `{"tags":[],"responses":${list},"params":{}}`;
  return `{"tags":[],"previousContent":${previousContentJson},"responses":${list},"params":{"previousContent":${previousContentJson}}}`;
}
