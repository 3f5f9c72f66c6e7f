import { DomainError } from "../../common/errors.js";
import { isUuid } from "../../common/ids.js";
import { ScriptKind, type ExecuteRequest, type Limits } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import type { RealmKind } from "../deno/protocol.js";

// "page" is a page tracker extractor: never asked for through Execute, only by RunPageTracker.
export type { RealmKind };

const KINDS: Partial<Record<ScriptKind, RealmKind>> = {
  [ScriptKind.SCRIPT_KIND_RESPONDER]: "responder",
  [ScriptKind.SCRIPT_KIND_API_CONFIGURATOR]: "configurator",
  [ScriptKind.SCRIPT_KIND_API_EXTRACTOR]: "extractor",
};

export const MAX_SCRIPT_BYTES = 256 * 1024;
export const MAX_CONTEXT_BYTES = 8 * 1024 * 1024;
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface LimitSettings {
  timeoutMs: { default: number; max: number };
  memoryMb: { default: number; max: number };
  maxResultBytes: { default: number; max: number };
  maxLogBytes: { default: number; max: number };
}

export interface ResolvedLimits {
  timeoutMs: number;
  memoryMb: number;
  maxResultBytes: number;
  maxLogBytes: number;
}

/** One script run as the pool takes it: secrets are supplied separately. */
export interface ScriptExecution extends ResolvedLimits {
  userId: string;
  kind: RealmKind;
  script: string;
  contextJson: string;
  /** Responders: the request body, given as bytes; it replaces any `body` in the context. */
  body?: Buffer;
}

export interface ValidExecution extends ScriptExecution {
  grant?: string;
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
  if (req.body !== undefined && kind !== "responder") throw invalid("body is for responder scripts only");
  if (req.body !== undefined && req.body.length > MAX_BODY_BYTES) throw invalid(`body must be at most ${MAX_BODY_BYTES} bytes`);
  return {
    userId: req.userId,
    kind,
    script: req.script,
    contextJson: req.contextJson,
    ...(req.body === undefined ? {} : { body: req.body }),
    grant: req.grant?.token || undefined,
    ...resolveLimits(req.limits, settings),
  };
}

/** The asked-for limits with defaults filled in; above a maximum is INVALID_ARGUMENT. */
export function resolveLimits(asked: Limits | undefined, settings: LimitSettings): ResolvedLimits {
  const limit = (name: keyof LimitSettings, field: string, value: number | undefined) => {
    const s = settings[name];
    if (!value) return s.default;
    if (value > s.max) throw new DomainError("invalid", `limits.${field} must be at most ${s.max}`);
    return value;
  };
  return {
    timeoutMs: limit("timeoutMs", "timeout_ms", asked?.timeoutMs),
    memoryMb: limit("memoryMb", "memory_mb", asked?.memoryMb),
    maxResultBytes: limit("maxResultBytes", "max_result_bytes", asked?.maxResultBytes),
    maxLogBytes: limit("maxLogBytes", "max_log_bytes", asked?.maxLogBytes),
  };
}
