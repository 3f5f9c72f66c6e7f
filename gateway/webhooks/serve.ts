import { ErrorKind, ScriptKind, type ResponderResult } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { SandboxRefused, type Scripts } from "../sandbox/run.js";
import type { HandleResponders, ResponderDirectory } from "./directory.js";
import { forwardedHeaders, type Arrival } from "./client-address.js";
import type { TrackedRequest, TrackedResponse } from "../responders/history-store.js";
import type { HistoryWriter } from "./history-writer.js";
import { matchResponder } from "./match.js";
import { isHeaderName, isHeaderValue } from "../responders/rules.js";
import type { HeaderPair, ResponderRecord } from "../responders/store.js";
import type { RenderCache } from "./render-cache.js";
import type { TemplateRenderer } from "./templates.js";

/** A request to a webhook host, as the transport read it. */
export interface WebhookRequest {
  handle: string;
  prefix: string;
  method: string;
  path: string;
  rawQuery?: string;
  /** Node's rawHeaders: name, value, name, value... in the order received (turned into pairs only when needed). */
  rawHeaders: string[];
  body: Buffer;
  clientAddress?: string;
  /** How the request came in: a script's `context.headers` gets the headers an ingress would add. */
  arrival?: Arrival;
}

export interface WebhookResponse {
  statusCode: number;
  headers: HeaderPair[];
  /** Text is kept as a string: Node then sends head and body in one write. */
  body: Buffer | string;
  /** Set when the answer is the gateway's own failure message, not the responder's. */
  failed?: true;
  /** Set when the same object answers every request of its responder (so its wire form can be kept). */
  reusable?: true;
}

/** What to record in the responder's history after the response has left. */
export interface ServedWebhook {
  response: WebhookResponse;
  /** For metrics: which kind of responder answered, if any. */
  kind: "static" | "scripted" | "unmatched";
  track?: { request: TrackedRequest; keep: number };
}

export const MAX_CONCURRENT_SCRIPTS = 10;

const text = (statusCode: number, message: string, extra: HeaderPair[] = []): WebhookResponse => ({
  statusCode,
  headers: [["content-type", "text/plain; charset=utf-8"], ...extra],
  body: message,
  failed: true,
});

const NOT_FOUND: WebhookResponse = {
  reusable: true,
  statusCode: 404,
  headers: [["content-type", "application/json; charset=utf-8"]],
  body: JSON.stringify({ message: "not found" }),
};

// Script outcomes the caller sees; the sandbox already stripped host details from the message.
const SCRIPT_ERROR_STATUS: Partial<Record<ErrorKind, number>> = {
  [ErrorKind.ERROR_KIND_TIME_LIMIT]: 504,
  [ErrorKind.ERROR_KIND_UPSTREAM_FAILURE]: 502,
  [ErrorKind.ERROR_KIND_URL_NOT_ALLOWED]: 502,
  [ErrorKind.ERROR_KIND_UPSTREAM_TOO_LARGE]: 413,
};

/** Answers webhook requests from the responder definitions; knows nothing of the HTTP server. */
export class WebhookServer {
  private readonly running = new Map<string, number>();
  /** Answers of static responders that name no granted secret: the same bytes every time. */
  private readonly fixed = new WeakMap<ResponderRecord, WebhookResponse>();

  constructor(
    private readonly deps: {
      history: HistoryWriter;
      directory: ResponderDirectory;
      templates: TemplateRenderer;
      renders: RenderCache;
      scripts: Scripts;
      scriptTimeoutMs: number;
      trackedResponseMaxBytes: number;
    },
  ) {}

  async serve(req: WebhookRequest): Promise<ServedWebhook> {
    const started = performance.now();
    // Sub-millisecond, so requests in the same millisecond keep their order in the history.
    const receivedAt = performance.timeOrigin + started;
    const found = req.handle === "" ? undefined : this.ownerOf(req.handle);
    const owner = found instanceof Promise ? await found : found;
    const responder = owner && matchResponder(owner.responders, req);
    if (!responder) return { response: NOT_FOUND, kind: "unmatched" };
    const kind = responder.settings.script === undefined ? "static" : "scripted";

    let response: WebhookResponse;
    let track = responder.settings.requestsToTrack > 0;
    let trackResponse = false;
    if (responder.settings.script === undefined) {
      response = this.fixed.get(responder) ?? (await this.staticResponse(responder, {}));
      trackResponse = response.failed === true;
    } else {
      const count = this.running.get(responder.id) ?? 0;
      if (count >= MAX_CONCURRENT_SCRIPTS) {
        return { response: text(429, "too many concurrent requests for this responder", [["retry-after", "1"]]), kind };
      }
      this.running.set(responder.id, count + 1);
      try {
        const outcome = await this.scripted(responder, req);
        response = outcome.response;
        track &&= !outcome.skip;
        trackResponse = outcome.trackResponse || response.failed === true;
      } finally {
        const left = (this.running.get(responder.id) ?? 1) - 1;
        if (left === 0) this.running.delete(responder.id);
        else this.running.set(responder.id, left);
      }
    }
    if (!track) return { response, kind };
    const durationUs = Math.round((performance.now() - started) * 1000);
    return {
      response,
      kind,
      track: {
        keep: responder.settings.requestsToTrack,
        request: {
          responderId: responder.id,
          userId: responder.userId,
          ...(req.clientAddress ? { clientAddress: req.clientAddress } : {}),
          method: req.method,
          url: req.rawQuery === undefined ? req.path : `${req.path}?${req.rawQuery}`,
          headers: pairsOf(req.rawHeaders),
          body: req.body,
          durationUs,
          receivedAt,
          ...(trackResponse ? { response: tracked(response, this.deps.trackedResponseMaxBytes) } : {}),
        },
      },
    };
  }

  // A loaded entry (null: no such handle) needs no await; only a load does.
  private ownerOf(handle: string): HandleResponders | undefined | Promise<HandleResponders | undefined> {
    const loaded = this.deps.directory.peek(handle);
    return loaded === undefined ? this.deps.directory.get(handle) : (loaded ?? undefined);
  }

  /** Writes a served request into its responder's history (after the response has left). */
  record(track: NonNullable<ServedWebhook["track"]>): Promise<void> {
    return this.deps.history.record(track.request, track.keep);
  }

  private async scripted(
    responder: ResponderRecord,
    req: WebhookRequest,
  ): Promise<{ response: WebhookResponse; skip: boolean; trackResponse: boolean }> {
    let result;
    try {
      result = await this.deps.scripts.execute({
        userId: responder.userId,
        kind: ScriptKind.SCRIPT_KIND_RESPONDER,
        script: responder.settings.script!,
        context: scriptContext(req),
        body: req.body,
        access: responder.access,
        consumer: consumerOf(responder),
        timeoutMs: this.deps.scriptTimeoutMs,
      });
    } catch (err) {
      if (!(err instanceof SandboxRefused)) throw err;
      const response = err.reason === "busy" ? text(429, err.message, [["retry-after", "1"]]) : text(503, err.message);
      return { response, skip: false, trackResponse: true };
    }
    if (result.error) {
      const status = SCRIPT_ERROR_STATUS[result.error.kind] ?? 500;
      return { response: text(status, result.error.message || "the script failed"), skip: false, trackResponse: true };
    }
    const r: ResponderResult = result.responder ?? { skipRequest: false, trackResponse: false };
    return { response: await this.staticResponse(responder, r), skip: r.skipRequest, trackResponse: r.trackResponse };
  }

  /**
   * The static settings with the script's fields laid over them. Only the
   * static values actually sent are expanded, so a script that sets its own
   * body costs no broker call for the static one.
   */
  private async staticResponse(responder: ResponderRecord, over: Partial<ResponderResult>): Promise<WebhookResponse> {
    const s = responder.settings;
    // Node would send a 1xx as if it were final, and the client would wait for the real one.
    // Saving refuses a static 1xx; one stored before that rule is refused here too.
    if (isInformational(over.statusCode ?? s.statusCode)) {
      const whose = over.statusCode === undefined ? "the responder's status" : "the script returned a status that";
      return text(500, `${whose} is informational (100-199), which cannot end a response`);
    }
    const useHeaders = over.headers === undefined;
    const useBody = over.body === undefined;
    const templates = [...(useHeaders ? s.headers.map(([, v]) => v) : []), ...(useBody && s.body !== undefined ? [s.body] : [])];
    const needsSecrets = this.deps.templates.needed(responder.access, templates);
    const rendered = needsSecrets ? await this.render(responder, `${useHeaders ? "h" : ""}${useBody ? "b" : ""}`, templates) : templates;
    let headers: HeaderPair[];
    if (useHeaders) {
      headers = s.headers.map(([name], i) => [name, rendered[i]!]);
      // An expanded secret must not be able to split the response (or stop Node
      // writing it: a character above U+00FF); say so without naming it.
      if (headers.some(([, v]) => !isHeaderValue(v))) {
        return text(500, "a header value of this responder is not valid after expanding its secrets");
      }
    } else {
      headers = over.headers!.items.map((h) => [h.name, h.value]);
      if (headers.some(([n, v]) => !isHeaderName(n) || !isHeaderValue(v))) {
        return text(500, "the script returned an invalid header name or value (control characters and characters above U+00FF are not allowed)");
      }
    }
    const body = useBody ? (s.body === undefined ? "" : rendered[rendered.length - 1]!) : over.body!;
    if (!needsSecrets && s.script === undefined) {
      const response: WebhookResponse = { statusCode: s.statusCode, headers, body, reusable: true };
      this.fixed.set(responder, response);
      return response;
    }
    return { statusCode: over.statusCode ?? s.statusCode, headers, body };
  }

  /** The templates expanded, from the cache when it has them; `key` names which static values they are. */
  private async render(responder: ResponderRecord, key: string, templates: string[]): Promise<string[]> {
    const { templates: renderer, renders } = this.deps;
    const cached = renders.get(responder, key);
    if (cached) return cached;
    const generation = renders.generation(responder.userId);
    const rendered = await renderer.render(responder.userId, responder.access, consumerOf(responder), templates);
    renders.set(responder, key, generation, rendered);
    return rendered;
  }
}

const isInformational = (status: number) => status >= 100 && status <= 199;

/** What the broker's audit log names as the consumer of a release. */
const consumerOf = (r: ResponderRecord) => `responder:${r.id}`;

/** A response as the history keeps it: its body cut at `maxBytes` (copied, so that the whole body is not held until written). */
export function tracked(r: WebhookResponse, maxBytes = Infinity): TrackedResponse {
  const body = typeof r.body === "string" ? Buffer.from(r.body) : r.body;
  return { statusCode: r.statusCode, headers: r.headers, body: body.length > maxBytes ? Buffer.from(body.subarray(0, maxBytes)) : body };
}

function pairsOf(raw: string[]): HeaderPair[] {
  const pairs: HeaderPair[] = [];
  for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
  return pairs;
}

/**
 * The responder context of docs/architecture.md ("The script contract"), minus secrets (the sandbox
 * adds the granted ones) and minus the body, which travels as bytes of its own.
 */
function scriptContext(req: WebhookRequest): object {
  // Keys come from the caller: without a prototype, "__proto__" is just a key.
  const headers: Record<string, string> = Object.create(null);
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const key = req.rawHeaders[i]!.toLowerCase();
    const value = req.rawHeaders[i + 1]!;
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  if (req.arrival) Object.assign(headers, forwardedHeaders(req.arrival, headers));
  const query: Record<string, string> = Object.create(null);
  if (req.rawQuery) for (const [k, v] of new URLSearchParams(req.rawQuery)) query[k] = v;
  return {
    ...(req.clientAddress ? { clientAddress: req.clientAddress } : {}),
    method: req.method,
    headers,
    path: req.path,
    ...(req.rawQuery === undefined ? {} : { rawQuery: req.rawQuery }),
    query,
  };
}
