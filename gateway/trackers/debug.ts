import { Type, type TSchema } from "@sinclair/typebox";
import type { Logger } from "../../common/log.js";
import type { StageReport } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { AccessSetting, grantAccessOf } from "../grants/access.js";
import type { GrantCheck } from "../grants/grant-guard.js";
import type { GrantMinter } from "../grants/mint.js";
import { NO_ACCESS } from "../grants/widening.js";
import { underScriptGrant } from "../sandbox/lost-release.js";
import { contentValue } from "./content.js";
import { sandboxCallError, toStageLog } from "./runner.js";
import { stageFailure, type StageLog } from "./runs-store.js";
import { TrackerTimeout } from "./schemas.js";
import type { TrackersService } from "./service.js";

/**
 * A debug run's request: a target and an access setting, as on create, and of
 * the config its timeout; other fields (name, the rest of config) are accepted
 * and ignored, so a create payload can be debugged as it is.
 */
export function debugRequestSchema<In extends TSchema>(target: In) {
  return Type.Object({
    target,
    secrets: Type.Optional(AccessSetting),
    config: Type.Optional(Type.Object({ timeout: Type.Optional(TrackerTimeout) }, { description: "Only timeout is used" })),
  });
}

/** A run log's stage, as `_logs` shows it, for the debug answers. */
export const DebugStage = Type.Object({
  stage: Type.String(),
  ok: Type.Boolean(),
  durationMs: Type.Integer(),
  summary: Type.Optional(Type.String()),
  errorKind: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  logs: Type.Optional(Type.Array(Type.String())),
});

/** What every kind's debug answer starts with (the reference's names, and the skill document's `elapsedMs`). */
export const DebugCommon = {
  durationMs: Type.Integer({ description: "Wall time of the whole run" }),
  elapsedMs: Type.Integer({ description: "The same as durationMs" }),
  result: Type.Optional(Type.Unknown({ description: "The extracted content, as a revision shows it: parsed JSON, else text, else base64" })),
  error: Type.Optional(Type.String({ description: "Why the run failed, from the stage that failed; secret values masked" })),
  stages: Type.Array(DebugStage, { description: "Each stage that ran, as the run logs show them" }),
};

export interface DebugOutcome {
  durationMs: number;
  elapsedMs: number;
  result?: unknown;
  error?: string;
  stages: StageLog[];
}

/**
 * One run of a kind's pipeline that stores nothing: the target checked as on
 * create, the caller's right to grant the secrets checked as on create, and a
 * single-use grant of its own (audited as `<kind>:_debug`) when the setting
 * grants anything.
 */
export class DebugRuns {
  constructor(private readonly deps: { grants: GrantMinter; log: Logger }) {}

  async run<In, T, View, R extends object>(
    service: TrackersService<In, T, View, R>,
    userId: string,
    input: { target: In; secrets?: AccessSetting },
    check: GrantCheck | undefined,
    call: (target: T, grant: string | undefined) => Promise<{ stages: StageReport[]; content?: Uint8Array }>,
  ): Promise<DebugOutcome> {
    const target = service.checkedTarget(input.target);
    const access = await service.access(userId, input.secrets ?? "none");
    await check?.({ consumer: service.kind.consumer, before: NO_ACCESS, after: access, recipientsChanged: true });
    const grantAccess = grantAccessOf(access);
    const mint = async () =>
      grantAccess && (await this.deps.grants.mint({ userId, purpose: "script", access: grantAccess, consumer: `${service.kind.consumer}:_debug` })).token;
    const started = performance.now();
    let answer: { stages: StageReport[]; content?: Uint8Array };
    try {
      answer = await underScriptGrant(mint, (grant) => call(target, grant));
    } catch (err) {
      const { error, internal } = sandboxCallError(err);
      if (internal) this.deps.log.error({ err }, `${service.kind.label} debug run failed`);
      throw error;
    }
    const durationMs = Math.round(performance.now() - started);
    const stages = answer.stages.map(toStageLog);
    const failed = stages.find((s) => !s.ok);
    const outcome: DebugOutcome = { durationMs, elapsedMs: durationMs, stages };
    if (failed) outcome.error = stageFailure(failed);
    else if (answer.content !== undefined) outcome.result = contentValue(Buffer.from(answer.content));
    else outcome.error = "the run produced no content";
    return outcome;
  }
}
