import { Type, type Static } from "@sinclair/typebox";
import type { DebugScreenshot, ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import type { AccessSetting } from "../grants/access.js";
import type { GrantCheck } from "../grants/grant-guard.js";
import { DebugCommon, debugRequestSchema, type DebugRuns } from "../trackers/debug.js";
import type { PageTrackersService } from "./kind.js";
import { runPageTarget } from "./sandbox-run.js";
import { PageTarget, type PageTargetInput } from "./schemas.js";

export const PageTrackerDebugRequest = debugRequestSchema(PageTarget);

const LogEntry = Type.Object({ level: Type.String(), message: Type.String({ description: "Secret values masked" }) });
const Screenshot = Type.Object({
  label: Type.String({ description: 'What it shows: "page.screenshot()", "locator.screenshot()", "after goto: <url>", "auto: error (<url>)"' }),
  data: Type.String({ description: "The image, base64" }),
  mimeType: Type.String(),
});

export const PageTrackerDebugResult = Type.Object(
  {
    ...DebugCommon,
    target: Type.Object({
      type: Type.Literal("page"),
      engine: Type.Object({ type: Type.Literal("chromium") }, { description: "The engine the run used: always Chromium here, whatever the target names" }),
      extractorSource: Type.String(),
      logs: Type.Array(LogEntry, { description: "The extractor's console output, then the page's ([browser])" }),
      screenshots: Type.Array(Screenshot, {
        description:
          "The run's visual trace, as the reference's: the extractor's own screenshots, the viewport after each goto, click, fill, type, press, check, uncheck and selectOption, and each page when the run failed; at most 10 and 5 MiB. Images are not masked: like the content, they show what the page showed",
      }),
      durationMs: Type.Integer({ description: "The extractor's run, browser calls included" }),
      error: Type.Optional(Type.String()),
    }),
  },
  { $id: "PageTrackerDebugResult", description: "One run of the extractor against the browser; nothing was stored" },
);
export type PageTrackerDebugResult = Static<typeof PageTrackerDebugResult>;

// The sandbox writes console.warn(...) and the like as "[warn] ..."; log and info carry no prefix.
const LEVEL = /^\[(warn|error|debug|trace)\] /;

/** `_debug` of a page tracker: the extractor once in a fresh browser context, its logs, result and timing back. */
export function pageTrackerDebug(deps: { runs: DebugRuns; service: PageTrackersService; sandbox: ScriptRunnerClient; timeoutMs: number }) {
  return async (
    userId: string,
    input: { target: PageTargetInput; secrets?: AccessSetting; config?: { timeout?: number } },
    check?: GrantCheck,
  ): Promise<PageTrackerDebugResult> => {
    let screenshots: DebugScreenshot[] = [];
    const outcome = await deps.runs.run(deps.service, userId, input, check, async (target, grant) => {
      const answer = await runPageTarget(deps.sandbox, deps.timeoutMs, { userId, target, grant, timeoutMs: input.config?.timeout, debug: true });
      screenshots = answer.screenshots;
      return answer;
    });
    const stage = outcome.stages.find((s) => s.stage === "extractor");
    return {
      ...outcome,
      target: {
        type: "page",
        engine: { type: "chromium" as const },
        extractorSource: input.target.extractor,
        logs: (stage?.logs ?? []).map((line) => {
          const m = LEVEL.exec(line);
          return m ? { level: m[1]!, message: line.slice(m[0].length) } : { level: "log", message: line };
        }),
        screenshots: screenshots.map((s) => ({ label: s.label, data: Buffer.from(s.data).toString("base64"), mimeType: s.mimeType })),
        durationMs: stage?.durationMs ?? outcome.durationMs,
        ...(outcome.error === undefined ? {} : { error: outcome.error }),
      },
    };
  };
}
