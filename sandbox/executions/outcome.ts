import { z } from "zod";
import { errorKindNamed } from "../../common/script-errors.js";
import {
  ErrorKind,
  type ExecuteResponse,
  type Headers,
  type ScriptError,
} from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { isFailureOf } from "../deno/protocol.js";
import type { RunOutcome } from "../pool/types.js";
import type { RealmKind } from "./request.js";

// What the realm reports (see sandbox/deno/realm.js): bodies are base64
// (encoded once, so no byte is escaped on its way), headers are [name, value] pairs. It is checked
// again here: the realm shares its built-ins with the user's script.
const binary = z.string().transform((s) => Buffer.from(s, "base64"));
const headers = z
  .array(z.tuple([z.string(), z.string()]))
  .transform((pairs): Headers => ({ items: pairs.map(([name, value]) => ({ name, value })) }));
const status = z.number().int().min(100).max(999);

const responder = z.object({
  statusCode: status.optional(),
  headers: headers.optional(),
  body: binary.optional(),
  skipRequest: z.boolean().default(false),
  trackResponse: z.boolean().default(false),
});
const configurator = z.union([
  z.object({
    requests: z.array(
      z.object({
        url: z.string(),
        method: z.string().optional(),
        headers: headers.optional(),
        body: binary.optional(),
        acceptInvalidCertificates: z.boolean().optional(),
        mediaType: z.string().optional(),
      }),
    ),
  }),
  z.object({
    responses: z.array(z.object({ statusCode: status, headers: headers.optional(), body: binary.default(Buffer.alloc(0)) })),
  }),
  // Neither: the tracker's own requests stand.
  z.object({}).strict(),
]);
const extractor = z.object({ body: binary.optional() });

const failure = z.object({ kind: z.string(), message: z.string().max(4000) });
const logs = z.array(z.string());

export interface Limits {
  timeoutMs: number;
  memoryMb: number;
}

/** Turns how a run ended into the RPC's answer. Throws for a lost process. */
export function toResponse(kind: RealmKind, run: RunOutcome, limits: Limits): ExecuteResponse {
  if (run.kind === "lost") {
    if (run.reason === "time") return failed(ErrorKind.ERROR_KIND_TIME_LIMIT, `the script exceeded its time limit of ${limits.timeoutMs} ms`);
    if (run.reason === "memory") return failed(ErrorKind.ERROR_KIND_MEMORY_LIMIT, `the script exceeded its memory limit of ${limits.memoryMb} MiB`);
    throw new ProcessLost();
  }
  const { list, truncated } = parseLogs(run.logs);
  const response = parseOutcome(kind, run.outcome, limits);
  return { ...response, logs: list, logsTruncated: truncated };
}

export class ProcessLost extends Error {
  constructor() {
    super("the sandbox process running the script stopped");
  }
}

function failed(kind: ErrorKind, message: string): ExecuteResponse {
  return { error: { kind, message }, logs: [], logsTruncated: false };
}

function parseOutcome(kind: RealmKind, outcome: string, limits: Limits): Omit<ExecuteResponse, "logs" | "logsTruncated"> {
  const tag = outcome[0];
  let json: unknown;
  try {
    json = JSON.parse(outcome.slice(1));
  } catch {
    return { error: invalid() };
  }
  if (tag === "E") {
    const f = failure.safeParse(json);
    const errorKind = f.success ? errorKindNamed(f.data.kind) : undefined;
    if (!f.success || errorKind === undefined) return { error: invalid() };
    let message = f.data.message;
    if (f.data.kind === "memory_limit") message = `the script exceeded its memory limit of ${limits.memoryMb} MiB`;
    return { error: { kind: errorKind, message } };
  }
  if (tag !== "R") return { error: invalid() };
  switch (kind) {
    case "responder": {
      const r = responder.safeParse(json);
      return r.success ? { responder: r.data } : { error: invalid() };
    }
    case "configurator": {
      const r = configurator.safeParse(json);
      if (!r.success) return { error: invalid() };
      if ("requests" in r.data) return { configurator: { requests: { items: r.data.requests } } };
      if ("responses" in r.data) return { configurator: { responses: { items: r.data.responses } } };
      return { configurator: {} };
    }
    case "extractor":
    case "page": {
      const r = extractor.safeParse(json);
      return r.success ? { extractor: r.data } : { error: invalid() };
    }
  }
}

function invalid(): ScriptError {
  return { kind: ErrorKind.ERROR_KIND_SCRIPT_ERROR, message: "the script's result could not be read" };
}

function parseLogs(raw: string): { list: string[]; truncated: boolean } {
  try {
    const list = logs.parse(JSON.parse(raw.slice(1)));
    return { list, truncated: raw[0] === "T" };
  } catch {
    return { list: [], truncated: false };
  }
}

export function isMemoryLimit(run: RunOutcome): boolean {
  return run.kind === "finished" && isFailureOf(run.outcome, "memory_limit");
}
