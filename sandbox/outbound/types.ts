import type { ResponseBudget } from "./budget.js";

// Shapes of Deno.core.ops.op_proxy_request (docs/architecture.md, "The script contract"): an untrusted
// script asks the host for one HTTP request; the host answers or refuses.

export interface OutboundRequest {
  url: string;
  method: string;
  /** As the script gave them; a name may repeat. Framing headers are dropped (see request.ts). */
  headers: [string, string][];
  body?: Buffer;
  /** Asked-for limit; 0, negative or not finite means the policy's default. Capped by the policy. */
  timeoutMs: number;
  /** The execution's bytes in flight and in all, shared by its requests (see budget.ts). */
  budget?: ResponseBudget;
  /** Skip TLS certificate verification for this request alone (op_proxy_request's `insecure`). */
  acceptInvalidCertificates?: boolean;
  /** Decode a gzip, deflate, br or zstd body (the default); false hands the bytes over as they came. */
  decompress?: boolean;
}

export interface OutboundResponse {
  statusCode: number;
  /**
   * Lower-case names; a repeated header (set-cookie included) is joined with ", ".
   * `content-length` is given as `x-original-content-length` (the body may
   * differ from what it counted), and a decoded body's `content-encoding` as
   * `x-original-content-encoding`.
   */
  headers: Record<string, string>;
  body: Buffer;
}

export type OutboundErrorKind = "url_not_allowed" | "upstream_failure" | "timeout" | "too_large";

/**
 * A refusal or failure the script's owner may see: the message names the host
 * and the reason only (never a stack, a host path or a resolved internal address).
 * `url_not_allowed` covers every refusal made before connecting: the URL, the
 * address, the method and malformed request headers.
 *
 * `scriptMessage` is the same failure in the wording op_proxy_request
 * documents for scripts (the reference product's: "URL not allowed
 * (non-public address): …", "Upstream request timed out: …"); tracker runs
 * and the browser's forward proxy report `message`.
 */
export class OutboundError extends Error {
  readonly scriptMessage: string;

  constructor(
    readonly kind: OutboundErrorKind,
    message: string,
    scriptMessage?: string,
  ) {
    // Without a stack: it is never shown, and one script can have thousands
    // refused (64 large answers at a time over its budget: capturing their
    // stacks was ~4% of the service's main thread, which every other user's
    // executions share).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = "OutboundError";
    this.scriptMessage = scriptMessage ?? message;
  }
}
