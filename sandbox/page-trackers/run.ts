import pLimit from "p-limit";
import type { Page } from "playwright-core";
import { DomainError } from "../../common/errors.js";
import { isUuid } from "../../common/ids.js";
import { isObjectShaped } from "../../common/json-shape.js";
import { PREVIOUS_CONTENT_MAX_BYTES } from "../../common/tracker-limits.js";
import {
  ErrorKind,
  TrackerStage,
  type ExecuteResponse,
  type RunPageTrackerRequest,
  type RunPageTrackerResponse,
} from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { maskerFor } from "../broker/mask.js";
import type { SecretsSource } from "../broker/secrets.js";
import { MAX_SCRIPT_BYTES, resolveLimits, type LimitSettings, type ResolvedLimits } from "../executions/request.js";
import type { ExecutionService } from "../executions/service.js";
import { displayUrl } from "../outbound/display-url.js";
import type { OutboundPolicy } from "../outbound/policy.js";
import { resolveScript } from "../outbound/remote-script.js";
import { MAX_CALLS_IN_FLIGHT, pageCallForScript } from "./calls.js";
import { BrowserConsole } from "./console.js";
import { ScreenshotTrace } from "./screenshots.js";
import { FairSlots, type SlotsState } from "./fair-slots.js";
import type { PageLoss } from "./renderer-memory.js";
import { orAfter } from "./time-box.js";

/** One browser context and page for one run (sandbox/page-trackers/browser.ts). */
export interface BrowserRun {
  page: Page;
  refusals(): readonly string[];
  pageLost(): PageLoss | undefined;
  readonly whenPageLost: Promise<PageLoss>;
  settle(): Promise<PageLoss | undefined>;
  close(): Promise<void>;
}

// Once the page is gone, every page call fails at once, so the script
// usually ends by itself; it gets this long to do so (and keep its logs)
// before the run ends without it.
const PAGE_LOST_GRACE_MS = 1000;

export interface Browsers {
  newRun(options: { acceptInvalidCertificates: boolean; defaultTimeoutMs: number; userAgent?: string }): Promise<BrowserRun>;
}

interface ValidPageRun {
  userId: string;
  extractor: string;
  previousContentJson?: string;
  grant?: string;
  acceptInvalidCertificates: boolean;
  userAgent?: string;
  limits: ResolvedLimits;
  debug: boolean;
}

/**
 * One page tracker run inside the sandbox service: the grant's secrets are
 * opened here, the extractor runs in a fresh realm with a `page` whose calls
 * are carried out on a fresh browser context of its own, and only the
 * content and a masked report leave. The context is closed when the run
 * ends, however it ends, so nothing of one run is seen by the next.
 */
export class PageTrackerRunService {
  private readonly slots: FairSlots;

  constructor(
    private readonly deps: {
      executions: ExecutionService;
      secrets: SecretsSource;
      browsers: Browsers;
      outbound: OutboundPolicy;
      limits: LimitSettings;
      /** Page runs this service carries out at once; more wait their turn (fair-slots.ts). */
      maxConcurrentRuns: number;
      /** Page runs one account may have waiting; more are refused as busy. */
      maxWaitingPerUser: number;
      /** Refuses a URL the outbound policy does not allow, before the browser tries it. */
      checkUrl: (url: string) => Promise<void>;
    },
  ) {
    this.slots = new FairSlots(deps.maxConcurrentRuns, deps.maxWaitingPerUser);
  }

  /** Runs in the browser's places and runs waiting for one, for metrics. */
  state(): SlotsState {
    return this.slots.state();
  }

  async run(req: RunPageTrackerRequest, signal?: AbortSignal): Promise<RunPageTrackerResponse> {
    const x = validatePageRun(req, this.deps.limits);
    // Before the secrets are released (a single-use grant spent, an audit record): a run that would be refused gets nothing.
    this.slots.checkRoom(x.userId);
    const secretsJson = x.grant ? await this.deps.secrets.openAsJson(x.grant, x.userId) : "{}";
    // A run whose caller gave up while it waited is never started.
    return this.slots.run(x.userId, () => this.runExtractor(x, secretsJson, signal), signal);
  }

  private async runExtractor(x: ValidPageRun, secretsJson: string, signal?: AbortSignal): Promise<RunPageTrackerResponse> {
    const mask = maskerFor(secretsJson);
    const started = performance.now();
    // An extractor saved as a URL is fetched on every run, as the reference does, before any browser is started.
    const resolved = await resolveScript(x.extractor, this.deps.outbound, x.limits.timeoutMs, "extractor");
    if ("failure" in resolved) {
      const error = { kind: ErrorKind.ERROR_KIND_UPSTREAM_FAILURE, message: mask(resolved.failure) };
      const stage = { stage: TrackerStage.TRACKER_STAGE_EXTRACTOR, durationMs: Math.round(performance.now() - started), summary: "", error, logs: [], logsTruncated: false };
      return { stages: [stage], screenshots: [] };
    }
    const extractor = resolved.script;
    let browser: BrowserRun;
    try {
      browser = await this.deps.browsers.newRun({
        acceptInvalidCertificates: x.acceptInvalidCertificates,
        defaultTimeoutMs: x.limits.timeoutMs,
        ...(x.userAgent === undefined ? {} : { userAgent: x.userAgent }),
      });
    } catch (err) {
      throw new DomainError("unprocessable", err instanceof Error ? err.message : "the browser could not be started");
    }
    const deadline = Date.now() + x.limits.timeoutMs;
    const trace = x.debug ? new ScreenshotTrace(deadline) : undefined;
    const run = {
      page: browser.page,
      trace,
      deadline,
      checkUrl: this.deps.checkUrl,
      refusals: () => browser.refusals(),
      inFlight: pLimit(MAX_CALLS_IN_FLIGHT),
      pageLost: () => {
        const loss = browser.pageLost();
        return loss && { kind: loss.reason === "memory_limit" ? ("memory_limit" as const) : undefined, message: loss.message };
      },
    };
    // The extractor's op_proxy_request calls share one budget, as a responder's do.
    const proxy = this.deps.executions.proxyCalls();
    const pageConsole = new BrowserConsole(browser.page, x.limits.maxLogBytes);
    try {
      const execution = this.deps.executions.run(
        { userId: x.userId, kind: "page", script: extractor, contextJson: contextOf(x.previousContentJson), ...x.limits },
        secretsJson,
        signal,
        (json) => (isPageCall(json) ? pageCallForScript(json, run) : proxy.call(json)),
      );
      const res = await endOf(execution, browser.whenPageLost);
      const loss = await browser.settle();
      const body = loss ? undefined : res?.extractor?.body;
      const error = loss
        ? { kind: loss.reason === "memory_limit" ? ErrorKind.ERROR_KIND_MEMORY_LIMIT : ErrorKind.ERROR_KIND_SCRIPT_ERROR, message: loss.message }
        : (res!.error ?? (body === undefined ? { kind: ErrorKind.ERROR_KIND_SCRIPT_ERROR, message: "the extractor returned no content" } : undefined));
      const { logs, truncated } = pageConsole.joined(res?.logs ?? [], res?.logsTruncated ?? false, mask);
      // A failed run's pages as they were left, unless the page itself is gone.
      if (error && !loss) await trace?.onFailure(browser.page.context().pages());
      const screenshots = (trace?.kept ?? []).map((s) => ({ ...s, label: mask(s.label) }));
      const stage = {
        stage: TrackerStage.TRACKER_STAGE_EXTRACTOR,
        durationMs: Math.round(performance.now() - started),
        summary: body === undefined ? "" : `extracted ${body.length} bytes from ${displayUrl(browser.page.url())}`,
        error: error && { kind: error.kind, message: mask(error.message) },
        logs,
        logsTruncated: truncated,
      };
      return error ? { stages: [stage], screenshots } : { stages: [stage], content: Buffer.from(body!), screenshots };
    } finally {
      proxy.end();
      await browser.close();
    }
  }
}

/**
 * The execution's answer; or, when the page is lost first, whatever the
 * execution answers within a short grace (undefined if nothing: it goes on
 * to its own deadline on the user's worker, but the run is over).
 */
async function endOf(execution: Promise<ExecuteResponse>, pageLost: Promise<PageLoss>): Promise<ExecuteResponse | undefined> {
  const first = await Promise.race([execution, pageLost.then(() => "lost" as const)]);
  if (first !== "lost") return first;
  execution.catch(() => {});
  // However the execution ends now, the run's answer is the lost page.
  return orAfter(execution, PAGE_LOST_GRACE_MS, undefined).catch(() => undefined);
}

// The realm writes page calls with "op":"page" right after the id (sandbox/deno/realm.js).
const isPageCall = (json: string) => /^\{"id":\d+,"op":"page"/.test(json);

function contextOf(previousContentJson: string | undefined): string {
  return previousContentJson === undefined ? '{"params":{}}' : `{"params":{},"previousContent":${previousContentJson}}`;
}

/** Checks a RunPageTracker request at the edge; errors name the field, never its content. */
function validatePageRun(req: RunPageTrackerRequest, settings: LimitSettings): ValidPageRun {
  const invalid = (message: string) => new DomainError("invalid", message);
  if (!isUuid(req.userId)) throw invalid("user_id must be a UUID");
  if (req.extractor.trim() === "") throw invalid("extractor must not be empty");
  if (Buffer.byteLength(req.extractor) > MAX_SCRIPT_BYTES) throw invalid(`extractor must be at most ${MAX_SCRIPT_BYTES} bytes`);
  const previous = req.previousContentJson;
  if (previous !== undefined) {
    const max = PREVIOUS_CONTENT_MAX_BYTES.page;
    if (Buffer.byteLength(previous) > max) throw invalid(`previous_content_json must be at most ${max} bytes`);
    // Written into the extractor's context text, which its worker parses.
    if (!isObjectShaped(previous)) throw invalid("previous_content_json must be a JSON object");
  }
  return {
    userId: req.userId,
    extractor: req.extractor,
    previousContentJson: previous,
    grant: req.grant?.token || undefined,
    acceptInvalidCertificates: req.acceptInvalidCertificates,
    ...(req.userAgent === undefined ? {} : { userAgent: checkedUserAgent(req.userAgent) }),
    limits: resolveLimits(req.limits, settings),
    debug: req.debug,
  };
}

// Chromium sends it as a header: a control character would break the request line.
const USER_AGENT_MAX_CHARS = 1024;
function checkedUserAgent(ua: string): string {
  if (ua.length > USER_AGENT_MAX_CHARS || /[\u0000-\u001f\u007f]/.test(ua) || /[^\u0000-\u00ff]/.test(ua)) {
    throw new DomainError("invalid", `user_agent must be at most ${USER_AGENT_MAX_CHARS} characters without control characters or characters above U+00FF`);
  }
  return ua;
}
