import { MAX_SCRIPT_BYTES } from "../executions/request.js";
import { displayUrl } from "./display-url.js";
import type { OutboundPolicy } from "./policy.js";
import { performOutbound } from "./request.js";
import { OutboundError } from "./types.js";

/**
 * A tracker script saved as an http(s) URL, as the reference allows: the
 * script is fetched from there on every run. Anything else (a script) is
 * undefined. A URL is one token: a script that merely starts with one has
 * more after it.
 */
function scriptUrlOf(source: string): string | undefined {
  const s = source.trim();
  if (s === "" || /\s/.test(s)) return undefined;
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return undefined;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? s : undefined;
}

/** Why a remote script could not be had; the message names the URL without its query. */
class RemoteScriptError extends Error {}

/**
 * The script to run: `source` itself, or, when it is a URL, the script
 * fetched from there; the reason when that fetch fails.
 */
export async function resolveScript(source: string, policy: OutboundPolicy, timeoutMs: number, what: string): Promise<{ script: string } | { failure: string }> {
  const url = scriptUrlOf(source);
  if (url === undefined) return { script: source };
  try {
    return { script: await fetchScript(url, policy, timeoutMs, what) };
  } catch (err) {
    if (err instanceof RemoteScriptError) return { failure: err.message };
    throw err;
  }
}

/**
 * The script at `url`, fetched under the outbound rules a script's own
 * requests follow (no private addresses, the allow-list): a 2xx answer of at
 * most MAX_SCRIPT_BYTES of UTF-8 text.
 */
async function fetchScript(url: string, policy: OutboundPolicy, timeoutMs: number, what: string): Promise<string> {
  const where = `the ${what} script at ${displayUrl(url)}`;
  let res;
  try {
    res = await performOutbound({ url, method: "GET", headers: [["accept", "text/javascript, */*"]], timeoutMs }, policy);
  } catch (err) {
    throw new RemoteScriptError(`${where} could not be fetched: ${err instanceof OutboundError ? err.message : "the request failed"}`);
  }
  if (res.statusCode < 200 || res.statusCode > 299) throw new RemoteScriptError(`${where} could not be fetched: it answered ${res.statusCode}`);
  if (res.body.length > MAX_SCRIPT_BYTES) throw new RemoteScriptError(`${where} is larger than ${MAX_SCRIPT_BYTES} bytes`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(res.body);
  } catch {
    throw new RemoteScriptError(`${where} is not UTF-8 text`);
  }
  if (text.trim() === "") throw new RemoteScriptError(`${where} is empty`);
  return text;
}
