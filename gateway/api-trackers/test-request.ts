import { Type, type Static } from "@sinclair/typebox";
import { DomainError, invalid } from "../../common/errors.js";
import type { Logger } from "../../common/log.js";
import type { ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { sandboxCallError, toStageLog } from "../trackers/runner.js";
import type { ApiTrackersService } from "./kind.js";
import { runApiTarget, type RunSettings } from "./sandbox-run.js";
import { ApiTarget, type ApiTargetInput } from "./schemas.js";

export const ApiTrackerTestRequest = Type.Object({ target: ApiTarget });

export const ApiTrackerTestResult = Type.Object(
  {
    status: Type.Integer({ description: "The response's status, whatever it is" }),
    headers: Type.Record(Type.String(), Type.String()),
    body: Type.String({ description: `The body as UTF-8 text (invalid sequences replaced), cut at ${512 * 1024} bytes` }),
    latencyMs: Type.Integer({ description: "Time the request took in the sandbox" }),
  },
  { $id: "ApiTrackerTestResult", description: "The target's response, as it came; nothing was stored" },
);
export type ApiTrackerTestResult = Static<typeof ApiTrackerTestResult>;

// As much of the body as the reference shows.
const BODY_SHOWN_BYTES = 512 * 1024;
// Every status counts as an answer: the point is to see what the target says.
const ANY_STATUS = Array.from({ length: 900 }, (_, i) => 100 + i);

/**
 * Packs the (only) response as one line of JSON with its status and headers,
 * then the body's bytes: the sandbox returns the extracted content and stage
 * reports only, and the body must come back byte for byte. Ours, not the user's:
 * `_test` runs none of the target's scripts.
 */
const RAW_RESPONSE = `(() => {
  const r = context.responses[context.responses.length - 1];
  const head = Deno.core.encode(JSON.stringify({ status: r.statusCode, headers: r.headers }) + "\\n");
  const out = new Uint8Array(head.length + r.body.length);
  out.set(head, 0);
  out.set(r.body, head.length);
  return { body: out };
})()`;

const lossy = new TextDecoder("utf-8");

/**
 * `_test`: the target's request once, without its scripts or secrets, from the
 * sandbox (under its outbound policy, like every tracker request); the raw
 * response back and nothing stored.
 */
export function apiTrackerTest(deps: { service: ApiTrackersService; sandbox: ScriptRunnerClient; settings: RunSettings; log: Logger }) {
  return async (userId: string, input: { target: ApiTargetInput }): Promise<ApiTrackerTestResult> => {
    // The primary request alone: `_test` shows what one request answers.
    const target = { ...deps.service.checkedTarget(input.target), more: undefined, configurator: undefined, extractor: undefined };
    let answer;
    try {
      answer = await runApiTarget(deps.sandbox, deps.settings, { userId, target, extractor: RAW_RESPONSE, acceptStatuses: ANY_STATUS });
    } catch (err) {
      const { error, internal } = sandboxCallError(err);
      if (internal) deps.log.error({ err }, "API tracker test request failed");
      throw error;
    }
    const stages = answer.stages.map(toStageLog);
    const request = stages.find((s) => s.stage === "request");
    // As the reference answers a request that could not be made: 400 with why.
    if (!request || !request.ok) throw invalid(`Request failed: ${request?.message ?? "no request was sent"}`);
    const failed = stages.find((s) => !s.ok);
    if (failed || answer.content === undefined) {
      throw new DomainError("unprocessable", `the response could not be read: ${failed?.message ?? "no content"}`);
    }
    const content = Buffer.from(answer.content);
    const newline = content.indexOf(0x0a);
    const head = JSON.parse(content.subarray(0, newline).toString("utf8")) as { status: number; headers: Record<string, string> };
    const body = content.subarray(newline + 1);
    return {
      status: head.status,
      headers: head.headers,
      body: lossy.decode(body.subarray(0, BODY_SHOWN_BYTES)),
      latencyMs: request.durationMs,
    };
  };
}
