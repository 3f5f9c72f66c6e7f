import { z } from "zod";
import { ResponseBudget } from "../outbound/budget.js";
import type { OutboundPolicy } from "../outbound/policy.js";
import { performOutbound } from "../outbound/request.js";
import { OutboundError, type OutboundErrorKind } from "../outbound/types.js";
import type { HostReply } from "../pool/types.js";

// A request as the realm's op_proxy_request writes it (sandbox/deno/realm.js).
const realmRequest = z.object({
  id: z.number().int().positive(),
  url: z.string(),
  method: z.string().nullable(),
  headers: z.array(z.tuple([z.string(), z.string()])),
  body64: z.string().nullable(),
  timeout: z.number().nullable(),
  insecure: z.boolean().optional(),
  decompress: z.boolean().optional(),
});

/** How an outbound failure is reported: the realm's error kind names (common/script-errors.ts). */
export const OUTBOUND_ERROR_NAMES: Record<OutboundErrorKind, string> = {
  url_not_allowed: "url_not_allowed",
  upstream_failure: "upstream_failure",
  timeout: "upstream_failure",
  too_large: "upstream_too_large",
};

/** Bodies up to this size are encoded in one go; a larger one in parts, as its reply is sent (HostReply). */
const WHOLE_BODY_BYTES = 192 * 1024;

/** `head`, `body` as base64 a part at a time (whole groups of three bytes, so the parts join into one), `tail`. */
function* base64Parts(head: string, body: Buffer, tail: string): Generator<string> {
  yield head;
  for (let at = 0; at < body.length; at += WHOLE_BODY_BYTES) yield body.subarray(at, at + WHOLE_BODY_BYTES).toString("base64");
  yield tail;
}

/** A fresh budget for one execution's op_proxy_request calls, under `policy`. */
export function executionBudget(policy: OutboundPolicy): ResponseBudget {
  return new ResponseBudget(policy.maxInFlightBytes, policy.maxExecutionBytes);
}

/** What became of one op_proxy_request: the answer, or the failure in the realm's error kind names. */
export type ProxyOutcome =
  | { ok: true; id: number; statusCode: number; headers: Record<string, string>; body: Uint8Array }
  | { ok: false; id: number; kind: string; message: string };

/**
 * Performs one op_proxy_request for a script (in the proxy thread,
 * proxy-thread.ts). Never throws: every failure becomes an outcome the script
 * sees as a rejected promise, in the documented wording.
 */
export async function performForScript(json: string, policy: OutboundPolicy, budget?: ResponseBudget): Promise<ProxyOutcome> {
  let req: z.infer<typeof realmRequest>;
  try {
    req = realmRequest.parse(JSON.parse(json));
  } catch {
    return { ok: false, id: 0, kind: "url_not_allowed", message: "op_proxy_request: malformed request" };
  }
  try {
    const res = await performOutbound(
      {
        url: req.url,
        method: (req.method ?? "GET").toUpperCase(),
        headers: req.headers,
        body: req.body64 === null ? undefined : Buffer.from(req.body64, "base64"),
        timeoutMs: req.timeout ?? 0,
        budget,
        acceptInvalidCertificates: req.insecure === true,
        decompress: req.decompress !== false,
      },
      policy,
    );
    return { ok: true, id: req.id, statusCode: res.statusCode, headers: res.headers, body: res.body };
  } catch (err) {
    const kind = err instanceof OutboundError ? OUTBOUND_ERROR_NAMES[err.kind] : "upstream_failure";
    const message = err instanceof OutboundError ? err.scriptMessage : "Upstream request failed: the request failed";
    return { ok: false, id: req.id, kind, message };
  }
}

/**
 * The reply the realm expects for `outcome`, with `mask` applied to a
 * failure's message (a URL in it may carry a secret the script put there,
 * and an uncaught message reaches the responder's caller).
 */
export function replyFor(outcome: ProxyOutcome, mask: (text: string) => string = (text) => text): HostReply {
  if (!outcome.ok) return JSON.stringify({ id: outcome.id, ok: false, kind: outcome.kind, message: mask(outcome.message) });
  const body = Buffer.from(outcome.body.buffer, outcome.body.byteOffset, outcome.body.byteLength);
  // Base64, once: as text escaped for JSON, arbitrary bytes grew up to
  // sevenfold on their way to the realm.
  const head = `{"id":${outcome.id},"ok":true,"statusCode":${outcome.statusCode},"headers":${JSON.stringify(outcome.headers)},"body64":"`;
  if (body.length <= WHOLE_BODY_BYTES) return `${head}${body.toString("base64")}"}`;
  return { parts: base64Parts(head, body, '"}') };
}
