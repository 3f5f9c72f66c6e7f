import { stageFailure, type RunLog } from "./runs-store.js";

/**
 * A run log as the API answers it: this system's fields, and beside them the
 * reference's execution-log fields (its web UI and clients read `status`,
 * `isManual`, `revisionSize`, `hasChanges` and `phases`). Each stage is a
 * phase named for the stage; there are no retries, so no `retryAttempt`.
 */
export interface RunLogView extends Omit<RunLog, "contentBytes"> {
  status: "success" | "failure";
  isManual: boolean;
  error?: string;
  hasChanges?: boolean;
  revisionSize?: number;
  phases: { phase: string; durationMs: number; status: "success" | "failure" }[];
}

export function runLogView(run: RunLog): RunLogView {
  const { contentBytes, ...ours } = run;
  const ok = run.outcome === "ok";
  const failed = run.stages.find((s) => !s.ok);
  return {
    ...ours,
    status: ok ? "success" : "failure",
    isManual: run.trigger === "manual",
    ...(failed ? { error: stageFailure(failed) } : {}),
    ...(ok ? { hasChanges: run.revisionId !== undefined } : {}),
    ...(ok && contentBytes !== undefined ? { revisionSize: contentBytes } : {}),
    phases: run.stages.map((s) => ({ phase: s.stage, durationMs: s.durationMs, status: s.ok ? "success" : "failure" })),
  };
}
