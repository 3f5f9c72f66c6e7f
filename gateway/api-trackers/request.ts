import type { HttpRequestSpec } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import type { RequestTarget } from "./kind.js";

export interface OutgoingRequest {
  url: string;
  method: string;
  headers: [string, string][];
  body?: Buffer;
}

/** The request a target describes: a string body as UTF-8, any other JSON value as JSON. */
export function requestOf(target: RequestTarget): OutgoingRequest {
  const headers = Object.entries(target.headers);
  if (!("body" in target) || target.body === undefined) return { url: target.url, method: target.method, headers };
  const isText = typeof target.body === "string";
  const body = Buffer.from(isText ? (target.body as string) : JSON.stringify(target.body));
  if (!headers.some(([name]) => name.toLowerCase() === "content-type")) {
    headers.push(["content-type", target.mediaType ?? (isText ? "text/plain; charset=utf-8" : "application/json")]);
  }
  return { url: target.url, method: target.method, headers, body };
}

/** The target's request as the sandbox takes it; skipping TLS verification is per request. */
export function requestSpecOf(target: RequestTarget): HttpRequestSpec {
  const r = requestOf(target);
  return {
    url: r.url,
    method: r.method,
    headers: { items: r.headers.map(([name, value]) => ({ name, value })) },
    body: r.body,
    ...(target.acceptInvalidCertificates ? { acceptInvalidCertificates: true } : {}),
    ...(target.mediaType === undefined ? {} : { mediaType: target.mediaType }),
  };
}
