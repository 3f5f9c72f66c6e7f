import type { IncomingMessage, ServerResponse } from "node:http";
import proxyaddr from "@fastify/proxy-addr";
import { DomainError } from "../../common/errors.js";
import type { App } from "../http/app-type.js";
import { statusClass, type GatewayMetrics } from "../metrics.js";
import { clientAddressOf } from "./client-address.js";
import { announcesBody, BODYLESS_FOR_FASTIFY, readBody } from "./request-body.js";
import { tracked, type WebhookResponse, type WebhookServer } from "./serve.js";
import type { WebhookUrls } from "../responders/urls.js";

/**
 * Webhook hits share the gateway's port with the REST API and are told apart
 * by their Host. Fastify routes by path, so `rewriteUrl` sends every webhook
 * host to one internal route and keeps what it parsed beside the request; a
 * client asking for that path on the API host finds nothing there.
 */
export const WEBHOOK_ROUTE = "/__webhook__";

interface Target {
  handle: string;
  prefix: string;
  path: string;
  rawQuery: string | undefined;
  /** Whether the connection's peer is a trusted proxy. */
  viaProxy: boolean;
}

// Kept on the request itself: a WeakMap entry per request costs more, in time and in GC.
const TARGET = Symbol("webhook target");
type Marked = IncomingMessage & { [TARGET]?: Target };
const EMPTY = Buffer.alloc(0);

/** Whether a request was a webhook hit: those are the users' traffic, not ours to log line by line. */
export const isWebhookRequest = (req: IncomingMessage) => (req as Marked)[TARGET] !== undefined;

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
    (req as Marked)[TARGET] = {
      handle: parsed.handle,
      prefix: parsed.prefix,
      path: path.startsWith("/") ? path : `/${path}`,
      rawQuery: q === -1 ? undefined : url.slice(q + 1),
      viaProxy,
    };
    return WEBHOOK_ROUTE;
  };
}

const first = (v: string | string[] | undefined): string | undefined => {
  const s = Array.isArray(v) ? v[0] : v;
  return s?.split(",")[0]?.trim() || undefined;
};

export async function webhookRoutes(app: App, opts: { server: WebhookServer; bodyLimit: number; metrics: GatewayMetrics }) {
  // Any body, any content type, kept as bytes for the script and the history.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: opts.bodyLimit }, (_req, body, done) => done(null, body));

  // No route logLevel: fastify would then rebuild the logger's level methods for every request.
  app.all(WEBHOOK_ROUTE, { schema: { hide: true } }, async (request, reply) => {
    const target = (request.raw as Marked)[TARGET];
    if (!target) return reply.status(404).send({ message: "not found" });
    const raw = request.raw;
    const body = Buffer.isBuffer(request.body)
      ? request.body
      : BODYLESS_FOR_FASTIFY.has(request.method) && announcesBody(raw)
        ? await readBody(raw, opts.bodyLimit)
        : EMPTY;
    let served;
    try {
      served = await opts.server.serve({
        handle: target.handle,
        prefix: target.prefix,
        path: target.path,
        rawQuery: target.rawQuery,
        method: request.method,
        rawHeaders: raw.rawHeaders,
        body,
        clientAddress: clientAddressOf(request.ip, raw.socket),
        arrival: { ip: request.ip, viaProxy: target.viaProxy, encrypted: (raw.socket as { encrypted?: boolean }).encrypted === true },
      });
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const status = err.kind === "unavailable" ? 503 : 500;
      // A dependency failed before the responder's kind mattered (e.g. the broker for its templates).
      opts.metrics.webhookRequests.inc({ kind: "failed", code: statusClass(status) });
      return reply.status(status).type("text/plain; charset=utf-8").send(err.message);
    }
    reply.hijack();
    const failure = write(reply.raw, served.response);
    const sent = failure === undefined ? served.response : UNWRITABLE;
    if (failure !== undefined) {
      // Something the checks in serve.ts let through; Node's error code only, never a value.
      request.log.error({ err: { code: (failure as { code?: unknown }).code } }, "a responder's answer could not be written");
    }
    opts.metrics.webhookRequests.inc({ kind: served.kind, code: statusClass(sent.statusCode) });
    if (served.track) {
      if (failure !== undefined) served.track.request.response = tracked(sent);
      await opts.server.record(served.track).catch((err: unknown) => {
        request.log.error({ err: { message: err instanceof Error ? err.message : String(err) } }, "could not record a responder request");
      });
    }
  });
}

// A fixed answer is written many times; its header list is built once.
const wireHeaders = new WeakMap<WebhookResponse, string[]>();

const UNWRITABLE: WebhookResponse = {
  statusCode: 500,
  headers: [["content-type", "text/plain; charset=utf-8"]],
  body: "the responder's answer could not be sent",
  failed: true,
};

/**
 * Writes the answer raw (fastify refuses statuses above 599, and responders
 * may use up to 999). The reply is already hijacked, so if Node still refuses
 * the head, UNWRITABLE goes out instead of nothing (the client must never be
 * left waiting on an open connection) and Node's error is returned.
 */
function write(res: ServerResponse, r: WebhookResponse): unknown {
  let flat = r.reusable ? wireHeaders.get(r) : undefined;
  if (!flat) {
    flat = headerList(r);
    if (r.reusable) wireHeaders.set(r, flat);
  }
  try {
    res.writeHead(r.statusCode, flat);
  } catch (failure) {
    // Node validates the whole head before it sends a byte, so nothing has left yet.
    res.writeHead(UNWRITABLE.statusCode, headerList(UNWRITABLE));
    res.end(UNWRITABLE.body);
    return failure ?? new Error("writeHead failed");
  }
  res.end(r.body);
  return undefined;
}

function headerList(r: WebhookResponse): string[] {
  const flat: string[] = [];
  for (const [name, value] of r.headers) {
    // The gateway frames the body itself; a responder's own framing headers could only break it.
    const lower = name.toLowerCase();
    if (lower === "content-length" || lower === "transfer-encoding") continue;
    flat.push(name, value);
  }
  flat.push("content-length", String(typeof r.body === "string" ? Buffer.byteLength(r.body) : r.body.length));
  return flat;
}
