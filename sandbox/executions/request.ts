import { DomainError } from "../../common/errors.js";
import { isUuid } from "../../common/ids.js";
import { ScriptKind, type ExecuteRequest } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";

export type RealmKind = "responder" | "configurator" | "extractor";

const KINDS: Partial<Record<ScriptKind, RealmKind>> = {
  [ScriptKind.SCRIPT_KIND_RESPONDER]: "responder",
  [ScriptKind.SCRIPT_KIND_API_CONFIGURATOR]: "configurator",
  [ScriptKind.SCRIPT_KIND_API_EXTRACTOR]: "extractor",
};

export const MAX_SCRIPT_BYTES = 256 * 1024;
export const MAX_CONTEXT_BYTES = 8 * 1024 * 1024;

export interface LimitSettings {
  timeoutMs: { default: number; max: number };
  memoryMb: { default: number; max: number };
  maxResultBytes: { default: number; max: number };
  maxLogBytes: { default: number; max: number };
}

export interface ValidExecution {
  userId: string;
  kind: RealmKind;
  script: string;
  contextJson: string;
  grant?: string;
  timeoutMs: number;
  memoryMb: number;
  maxResultBytes: number;
  maxLogBytes: number;
}

/** Checks an Execute request at the edge; errors name the field, never its content. */
export function validateExecution(req: ExecuteRequest, settings: LimitSettings): ValidExecution {
  const invalid = (message: string) => new DomainError("invalid", message);
  if (!isUuid(req.userId)) throw invalid("user_id must be a UUID");
  const kind = KINDS[req.kind];
  if (!kind) throw invalid("kind must be a known script kind");
  if (req.script.trim() === "") throw invalid("script must not be empty");
  if (Buffer.byteLength(req.script) > MAX_SCRIPT_BYTES) throw invalid(`script must be at most ${MAX_SCRIPT_BYTES} bytes`);
  if (Buffer.byteLength(req.contextJson) > MAX_CONTEXT_BYTES) throw invalid(`context_json must be at most ${MAX_CONTEXT_BYTES} bytes`);
  let context: unknown;
  try {
    context = JSON.parse(req.contextJson);
  } catch {
    throw invalid("context_json must be JSON");
  }
  if (context === null || typeof context !== "object" || Array.isArray(context)) throw invalid("context_json must be a JSON object");
  const limit = (name: keyof LimitSettings, field: string, asked: number | undefined) => {
    const s = settings[name];
    if (!asked) return s.default;
    if (asked > s.max) throw invalid(`limits.${field} must be at most ${s.max}`);
    return asked;
  };
  return {
    userId: req.userId,
    kind,
    script: req.script,
    contextJson: req.contextJson,
    grant: req.grant?.token || undefined,
    timeoutMs: limit("timeoutMs", "timeout_ms", req.limits?.timeoutMs),
    memoryMb: limit("memoryMb", "memory_mb", req.limits?.memoryMb),
    maxResultBytes: limit("maxResultBytes", "max_result_bytes", req.limits?.maxResultBytes),
    maxLogBytes: limit("maxLogBytes", "max_log_bytes", req.limits?.maxLogBytes),
  };
}
