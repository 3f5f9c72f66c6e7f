import type { TrackerExchange } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { displayUrl } from "../outbound/display-url.js";
import type { TrackerHttpRequest } from "./request.js";

/** What a debug run shows of each body, as the reference shows it: enough to read, not a second copy of a run's 2 MiB of responses. */
export const DEBUG_BODY_MAX_BYTES = 64 * 1024;

type Mask = (text: string) => string;

/**
 * The exchanges of a debug run, recorded as the requests go out. Everything
 * a script or an upstream wrote is masked with the run's secret values before
 * it is kept: the whole body first, then cut, so no value is cut in two and
 * left readable.
 */
export class ExchangeRecorder {
  readonly exchanges: TrackerExchange[] = [];

  constructor(private readonly mask: Mask) {}

  /** Records `r` as sent; the returned functions complete it with the answer or the failure. */
  sent(r: TrackerHttpRequest): { answered: (res: { statusCode: number; headers: Record<string, string>; body: Buffer }) => void; failed: (message: string) => void } {
    const started = performance.now();
    const exchange: TrackerExchange = {
      method: r.method,
      url: displayUrl(r.url),
      requestHeaders: { items: r.headers.map(([name, value]) => ({ name, value: this.mask(value) })) },
      requestBodySize: r.body?.length ?? 0,
      responseHeaders: undefined,
      responseBodySize: 0,
      durationMs: 0,
      requestBodyCut: false,
      responseBodyCut: false,
    };
    if (r.body !== undefined) [exchange.requestBody, exchange.requestBodyCut] = this.text(r.body);
    this.exchanges.push(exchange);
    const took = () => Math.round(performance.now() - started);
    return {
      answered: (res) => {
        exchange.durationMs = took();
        exchange.statusCode = res.statusCode;
        exchange.responseHeaders = { items: Object.entries(res.headers).map(([name, value]) => ({ name, value: this.mask(value) })) };
        [exchange.responseBody, exchange.responseBodyCut] = this.text(res.body);
        exchange.responseBodySize = res.body.length;
      },
      failed: (message) => {
        exchange.durationMs = took();
        exchange.error = this.mask(message);
      },
    };
  }

  /**
   * What the configurator returned, as the reference's debug shows it: its
   * requests or responses, each body as the JSON it holds, else as text
   * (masked, and cut as the exchanges' bodies are), as JSON text.
   */
  configured(returned: { requests?: TrackerHttpRequest[]; responses?: { statusCode: number; headers: Record<string, string>; body: Buffer }[] }): string {
    const headers = (pairs: [string, string][]) => Object.fromEntries(pairs.map(([name, value]) => [name, this.mask(value)]));
    const body = (bytes: Buffer | undefined) => {
      if (bytes === undefined) return {};
      const [text, cut] = this.text(bytes);
      return { body: cut ? text : jsonOrText(text) };
    };
    if (returned.responses) {
      return JSON.stringify({ responses: returned.responses.map((r) => ({ status: r.statusCode, headers: headers(Object.entries(r.headers)), ...body(r.body) })) });
    }
    return JSON.stringify({
      requests: (returned.requests ?? []).map((r) => ({
        url: displayUrl(r.url),
        method: r.method,
        headers: headers(r.headers),
        ...body(r.body),
        ...(r.mediaType === undefined ? {} : { mediaType: this.mask(r.mediaType) }),
        ...(r.acceptInvalidCertificates ? { acceptInvalidCertificates: true } : {}),
      })),
    });
  }

  /** The body as masked text, and whether it was cut. */
  private text(body: Buffer): [string, boolean] {
    const masked = this.mask(body.toString("utf8"));
    if (Buffer.byteLength(masked) <= DEBUG_BODY_MAX_BYTES) return [masked, false];
    // A character cut in two decodes as U+FFFD: left out.
    const cut = Buffer.from(masked).subarray(0, DEBUG_BODY_MAX_BYTES).toString("utf8");
    return [cut.endsWith("\uFFFD") ? cut.slice(0, -1) : cut, true];
  }
}

/** The JSON `text` holds, else the text itself: how bodies are shown to a user, as the reference shows them. */
export function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
