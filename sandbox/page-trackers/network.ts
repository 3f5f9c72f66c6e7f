// HTTP as a page extractor sees it: the global `fetch` and `page.request`
// (both carried out by the run's own browser context, so through the same
// forward proxy, session, byte budget and outbound policy as the page), the
// responses of navigations and `waitForResponse`, and the request/response
// logs a predicate in the realm reads. Only descriptions and body bytes go
// back; the Playwright objects stay here, under a numbered handle.
import type { APIResponse, Request, Response } from "playwright-core";
import { z } from "zod";
import { REFUSED_HEADER } from "../outbound/forward-proxy.js";
import { OutboundError } from "../outbound/types.js";
import {
  MAX_TEXT_CHARS,
  MAX_URL_CHARS,
  opts,
  padded,
  pageOf,
  plainOptions,
  timeout,
  value,
  waitUntil,
  type CallContext,
  type Handler,
  type PageRun,
} from "./call-kit.js";
import { MAX_GLOB_CHARS, UrlGlob } from "./url-glob.js";

/** A request body the script sends (a larger upload is refused). */
const MAX_REQUEST_BODY_CHARS = 1024 * 1024;
/** Events one poll of a log hands to the realm's predicate. */
const EVENTS_PER_POLL = 32;

const headerPairs = z.array(z.tuple([z.string().min(1).max(256), z.string().max(8192)])).max(100);
const requestInit = z
  .object({
    method: z.string().regex(/^[A-Za-z]{1,16}$/, "an HTTP method is a word of at most 16 letters").optional(),
    headers: headerPairs.optional(),
    // A string goes as UTF-8; `binary` holds one byte per character (what Deno.core.encodeBinaryString gives).
    body: z.union([z.object({ text: z.string().max(MAX_REQUEST_BODY_CHARS) }).strict(), z.object({ binary: z.string().max(MAX_REQUEST_BODY_CHARS) }).strict()]).nullish(),
    timeout,
    maxRedirects: z.number().int().min(0).max(20).optional(),
  })
  .strict()
  .nullish();

function headerRecord(pairs: [string, string][] | undefined): Record<string, string> | undefined {
  if (!pairs) return undefined;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, v] of pairs) {
    const key = name.toLowerCase();
    out[key] = key in out ? `${out[key]}, ${v}` : v;
  }
  return { ...out };
}

/** The proxy's own 403 to a plain-HTTP request: a refusal, not an answer. */
function throwIfRefused(status: number, headers: Record<string, string>, url: string, run: PageRun): void {
  if (status !== 403 || headers[REFUSED_HEADER] === undefined) return;
  const host = new URL(url).hostname;
  throw new OutboundError("url_not_allowed", run.refusals().findLast((r) => r.startsWith(`request to ${host} `)) ?? `request to ${host} refused`);
}

function describeRequest(r: Request) {
  const postData = r.postData();
  return {
    url: r.url(),
    method: r.method(),
    headers: r.headers(),
    resourceType: r.resourceType(),
    postData: postData !== null && postData.length <= MAX_TEXT_CHARS ? postData : null,
  };
}

/** A browser response as the realm's Response object reads it; its body stays here until asked for. */
export function describeResponse(r: Response, c: CallContext, refusalThrows = true) {
  const headers = r.headers();
  if (refusalThrows) throwIfRefused(r.status(), headers, r.url(), c.run);
  return {
    url: r.url(),
    status: r.status(),
    statusText: r.statusText(),
    ok: r.ok(),
    headers,
    handle: c.state.handles.add({ body: () => r.body() }),
    request: describeRequest(r.request()),
  };
}

function describeFetched(r: APIResponse, c: CallContext) {
  throwIfRefused(r.status(), r.headers(), r.url(), c.run);
  return {
    url: r.url(),
    status: r.status(),
    statusText: r.statusText(),
    ok: r.ok(),
    headers: r.headersArray().map((h) => [h.name, h.value]),
    handle: c.state.handles.add({ body: () => r.body(), dispose: () => r.dispose() }),
  };
}

const fetchHandler: Handler = async (t, raw, c) => {
  const [url, o] = z.tuple([z.string().max(MAX_URL_CHARS), requestInit]).parse(padded(raw, 2));
  // A clear refusal before anything is sent; the proxy holds every hop (redirects too) to the same policy.
  await c.run.checkUrl(url);
  const body = o?.body ? ("text" in o.body ? o.body.text : Buffer.from(o.body.binary, "latin1")) : undefined;
  const res = await pageOf(t).request.fetch(url, {
    method: o?.method?.toUpperCase() ?? "GET",
    headers: headerRecord(o?.headers),
    data: body,
    timeout: c.ms(o?.timeout),
    maxRedirects: o?.maxRedirects ?? 20,
    failOnStatusCode: false,
  });
  return value(describeFetched(res, c));
};

const eventKind = z.enum(["request", "response"]);

export const NETWORK: Record<string, Handler> = {
  // The global fetch and page.request.*: the realm puts the method in the options.
  fetch: fetchHandler,
  "request.fetch": fetchHandler,
  "response.body": async (_t, raw, c) => {
    const [handle] = z.tuple([z.number().int().positive()]).parse(padded(raw, 1));
    return { bytes: await c.state.handles.get(handle).body() };
  },
  // A glob string, matched by url-glob.ts in linear time (as waitForURL); a
  // RegExp or a predicate is tested by the realm itself on the logged events.
  waitForResponse: async (t, raw, c) => {
    const [url, o] = z.tuple([z.string().max(MAX_GLOB_CHARS), plainOptions]).parse(padded(raw, 2));
    const glob = url === "" ? undefined : UrlGlob.compile(url);
    const res = await pageOf(t).waitForResponse((r) => glob?.matches(r.url()) ?? true, { timeout: c.ms(o?.timeout) });
    return value(describeResponse(res, c));
  },
  waitForRequest: async (t, raw, c) => {
    const [url, o] = z.tuple([z.string().max(MAX_GLOB_CHARS), plainOptions]).parse(padded(raw, 2));
    const glob = url === "" ? undefined : UrlGlob.compile(url);
    const req = await pageOf(t).waitForRequest((r) => glob?.matches(r.url()) ?? true, { timeout: c.ms(o?.timeout) });
    return value(describeRequest(req));
  },
  waitForNavigation: async (t, raw, c) => {
    const [o] = z.tuple([opts({ waitUntil, url: z.string().max(MAX_GLOB_CHARS).optional() })]).parse(padded(raw, 1));
    const glob = o?.url === undefined || o.url === "" ? undefined : UrlGlob.compile(o.url);
    const res = await pageOf(t).waitForNavigation({
      url: (u) => glob?.matches(u.href) ?? true,
      waitUntil: o?.waitUntil,
      timeout: c.ms(o?.timeout, true),
    });
    return value(res && describeResponse(res, c));
  },
  // Where a predicate's reading of the page's events starts: the next event.
  "events.mark": async (_t, raw, c) => {
    const [kind] = z.tuple([eventKind]).parse(padded(raw, 1));
    return value(kind === "request" ? c.state.requests().end : c.state.responses().end);
  },
  // The events from a cursor on, waiting for the first; the realm tests them and asks again.
  "events.next": async (_t, raw, c) => {
    const [kind, cursor, wait] = z.tuple([eventKind, z.number().int().nonnegative(), z.number().nonnegative().nullish()]).parse(padded(raw, 3));
    const waitMs = c.ms(wait);
    if (kind === "request") {
      const { from, items } = await c.state.requests().since(cursor, EVENTS_PER_POLL, waitMs);
      return value({ from, items: items.map(describeRequest) });
    }
    const { from, items } = await c.state.responses().since(cursor, EVENTS_PER_POLL, waitMs);
    return value({ from, items: items.map((r) => describeResponse(r, c, false)) });
  },
};
