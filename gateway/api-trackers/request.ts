import type { TrackerTarget } from "./store.js";

export interface OutgoingRequest {
  url: string;
  method: string;
  headers: [string, string][];
  body?: Buffer;
}

/** The request a target describes: a string body as UTF-8, any other JSON value as JSON. */
export function requestOf(target: TrackerTarget): OutgoingRequest {
  const headers = Object.entries(target.headers);
  if (!("body" in target) || target.body === undefined) return { url: target.url, method: target.method, headers };
  const isText = typeof target.body === "string";
  const body = Buffer.from(isText ? (target.body as string) : JSON.stringify(target.body));
  if (!headers.some(([name]) => name.toLowerCase() === "content-type")) {
    headers.push(["content-type", target.mediaType ?? (isText ? "text/plain; charset=utf-8" : "application/json")]);
  }
  return { url: target.url, method: target.method, headers, body };
}
