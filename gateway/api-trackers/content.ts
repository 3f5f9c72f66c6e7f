import type { TrackerTarget } from "./store.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A revision's content as a JSON value: the parsed JSON when the extracted
 * body is JSON text, the text when it is other UTF-8, base64 otherwise.
 * Extractors see the previous revision in this form as
 * `params.previousContent.original`; the API shows it as `data.original`.
 */
export function contentValue(content: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(content);
  } catch {
    return content.toString("base64");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

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
