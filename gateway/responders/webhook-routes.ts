import type { IncomingMessage, ServerResponse } from "node:http";
import proxyaddr from "@fastify/proxy-addr";
import { DomainError } from "../../common/errors.js";
import type { App } from "../http/app-type.js";
import type { WebhookResponse, WebhookServer } from "./serve.js";
import type { HeaderPair } from "./store.js";
import type { WebhookUrls } from "./urls.js";

/**
 * Webhook hits share the gateway's port with the REST API and are told apart
 * by their Host. Fastify routes by path, so `rewriteUrl` sends every webhook
 * host to one internal route and keeps what it parsed beside the request; a
 * client asking for that path on the API host finds nothing there.
 */
const WEBHOOK_ROUTE = "/__webhook__";

interface Target {
  handle: string;
  prefix: string;
  path: string;
  rawQuery?: string;
}

const targets = new WeakMap<IncomingMessage, Target>();

export type Trust = (addr: string, i: number) => boolean;

export function trustOf(proxies: string[]): Trust {
  return proxies.length === 0 ? () => false : proxyaddr.compile(proxies);
}

/** For fastify's `rewriteUrl`: maps a webhook request to the internal route. */
export function webhookRewriter(urls: WebhookUrls, trust: Trust) {
  return (req: IncomingMessage): string => {
    const url = req.url ?? "/";
    const viaProxy = req.socket.remoteAddress !== undefined && trust(req.socket.remoteAddress, 0);
    const host = (viaProxy && first(req.headers["x-forwarded-host"])) || req.headers.host;
    const parsed = urls.parseHost(host);
    if (!parsed) return url === WEBHOOK_ROUTE || url.startsWith(`${WEBHOOK_ROUTE}?`) ? "/__not_a_webhook__" : url;
    // A path-routing proxy says which path the caller really asked for.
    const replaced = viaProxy ? first(req.headers["x-replaced-path"]) : undefined;
    const q = url.indexOf("?");
    const path = replaced ?? (q === -1 ? url : url.slice(0, q));
    targets.set(req, { ...parsed, path: path.startsWith("/") ? path : `/${path}`, ...(q === -1 ? {} : { rawQuery: url.slice(q + 1) }) });
    return WEBHOOK_ROUTE;
  };
}

const first = (v: string | string[] | undefined): string | undefined => {
  const s = Array.isArray(v) ? v[0] : v;
  return s?.split(",")[0]?.trim() || undefined;
};

export async function webhookRoutes(app: App, opts: { server: WebhookServer; bodyLimit: number }) {
  // Any body, any content type, kept as bytes for the script and the history.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: opts.bodyLimit }, (_req, body, done) => done(null, body));

  app.all(WEBHOOK_ROUTE, { schema: { hide: true }, logLevel: "warn" }, async (request, reply) => {
    const target = targets.get(request.raw);
    if (!target) return reply.status(404).send({ message: "not found" });
    const headers: HeaderPair[] = [];
    const raw = request.raw.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) headers.push([raw[i]!, raw[i + 1]!]);
    let served;
    try {
      served = await opts.server.serve({
        ...target,
        method: request.method,
        headers,
        body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
        clientAddress: request.ip,
      });
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      return reply.status(err.kind === "unavailable" ? 503 : 500).type("text/plain; charset=utf-8").send(err.message);
    }
    reply.hijack();
    write(reply.raw, served.response);
    if (served.track) {
      await opts.server.record(served.track).catch((err: unknown) => {
        request.log.error({ err: { message: err instanceof Error ? err.message : String(err) } }, "could not record a responder request");
      });
    }
  });
}

// Written raw: fastify refuses statuses above 599, and responders may use up to 999.
function write(res: ServerResponse, r: WebhookResponse): void {
  const flat: string[] = [];
  for (const [name, value] of r.headers) {
    // The gateway frames the body itself; a responder's own framing headers could only break it.
    const lower = name.toLowerCase();
    if (lower === "content-length" || lower === "transfer-encoding") continue;
    flat.push(name, value);
  }
  flat.push("content-length", String(r.body.length));
  res.writeHead(r.statusCode, flat);
  res.end(r.body);
}
