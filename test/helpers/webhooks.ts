import http from "node:http";
import { call, type StackLike, type TestUser } from "./http.js";

export interface WebhookAnswer {
  status: number;
  /** Raw header pairs in the order they were sent. */
  headers: [string, string][];
  header(name: string): string | undefined;
  body: Buffer;
  text: string;
}

/**
 * One request to a webhook host. The test connects to the gateway's own
 * address and names the webhook host in `Host`, as DNS would route it.
 */
export function hit(
  stack: StackLike,
  host: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; localAddress?: string; url?: string } = {},
): Promise<WebhookAnswer> {
  const target = new URL(opts.url ?? stack.url);
  // As curl and fetch do: Node frames a GET, DELETE, OPTIONS or TRACE body only when told its length.
  const length = opts.body === undefined || hasHeader(opts.headers, "transfer-encoding") ? {} : { "content-length": String(Buffer.byteLength(opts.body)) };
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: opts.method ?? "GET",
        path,
        headers: { host, ...length, ...opts.headers },
        agent: false,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const headers: [string, string][] = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers,
            header: (name) => headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v).join(", ") || undefined,
            body,
            text: body.toString(),
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

const hasHeader = (headers: Record<string, string> | undefined, name: string) => Object.keys(headers ?? {}).some((h) => h.toLowerCase() === name);

/** A request to the URL a responder reported (its host and path). */
export function hitUrl(stack: StackLike, url: string, opts: Parameters<typeof hit>[3] = {}, suffix = ""): Promise<WebhookAnswer> {
  const u = new URL(url);
  return hit(stack, u.host, u.pathname + suffix, opts);
}

export const webhookHost = (u: { handle: string }, prefix?: string) => `${prefix ? `${prefix}-` : ""}${u.handle}.webhooks.localhost`;

export interface ResponderInput {
  name?: string;
  location?: { pathType: "=" | "^" | "*"; path: string; subdomainPrefix?: string };
  method?: string;
  enabled?: boolean;
  settings?: Record<string, unknown>;
}

let n = 0;

/** The request body of a responder, with defaults for what the test does not care about. */
export function responderBody(r: ResponderInput = {}) {
  return {
    name: r.name ?? `responder-${++n}`,
    location: r.location ?? { pathType: "=", path: `/r${n}` },
    method: r.method ?? "GET",
    enabled: r.enabled ?? true,
    settings: { requestsToTrack: 0, statusCode: 200, headers: [], body: "ok", ...r.settings },
  };
}

export async function createResponder(stack: StackLike, user: TestUser, r: ResponderInput = {}) {
  const res = await call(stack, "POST", "/api/webhooks/responders", { auth: user.auth, json: responderBody(r) });
  if (res.status !== 201) throw new Error(`create responder: ${res.status} ${res.text}`);
  return res.body as { id: string; url: string; name: string; settings: Record<string, unknown> };
}

/** A header value as the history answers it (the reference's shape): its bytes. */
export const headerBytes = (value: string): number[] => [...Buffer.from(value, "latin1")];

/** A history entry's `[name, bytes]` headers back as `[name, text]` pairs. */
export const headerTexts = (headers: unknown): [string, string][] =>
  (headers as [string, number[]][]).map(([name, bytes]) => [name, Buffer.from(bytes).toString("latin1")]);

/** History is written just after the response leaves; wait until it holds `count` entries. */
export async function historyOf(stack: StackLike, user: TestUser, id: string, count: number, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await call<Record<string, unknown>[]>(stack, "GET", `/api/webhooks/responders/${id}/_history`, { auth: user.auth });
    if (res.status !== 200) throw new Error(`history: ${res.status} ${res.text}`);
    if (res.body.length >= count || Date.now() > until) return res.body;
    await new Promise((r) => setTimeout(r, 25));
  }
}
