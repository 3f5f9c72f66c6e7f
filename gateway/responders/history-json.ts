import type { HistoryEntry } from "./history-store.js";
import type { HeaderPair } from "./store.js";

/** Bytes encoded per piece: about 3.6 times as much text. */
const SLICE = 16 * 1024;

/**
 * A history entry as the API answers it, in the reference's shape: header
 * values and bodies as arrays of byte values, and a kept response in
 * `responseStatusCode`, `responseHeaders` and `responseBody` beside the
 * request. Written in pieces, the bodies straight into buffers: as JavaScript
 * arrays of numbers, 60 MiB of bodies took 1.5 GB of the gateway's memory and
 * 16 s of its only thread.
 */
export function* historyEntryJson(e: HistoryEntry): Generator<Buffer | string> {
  yield `{"id":${JSON.stringify(e.publicId)},"responderId":${JSON.stringify(e.responderId)}`;
  if (e.clientAddress !== undefined) yield `,"clientAddress":${JSON.stringify(e.clientAddress)}`;
  yield `,"method":${JSON.stringify(e.method)},"url":${JSON.stringify(e.url)},"headers":`;
  yield* headersJson(e.headers);
  yield `,"body":`;
  yield* byteArrayJson(e.body);
  yield `,"durationMs":${JSON.stringify(e.durationUs / 1000)}`;
  if (e.response) {
    yield `,"responseStatusCode":${JSON.stringify(e.response.statusCode)},"responseHeaders":`;
    yield* headersJson(e.response.headers);
    yield `,"responseBody":`;
    yield* byteArrayJson(e.response.body);
  }
  yield `,"createdAt":${JSON.stringify(e.createdAt)}}`;
}

/**
 * `[["x-a",[49]]]`: each value as its bytes. Node reads a header one byte a
 * character (latin1), and a response's are held to U+00FF, so latin1 gives
 * back the bytes sent.
 */
function* headersJson(headers: HeaderPair[]): Generator<Buffer | string> {
  yield "[";
  for (let i = 0; i < headers.length; i++) {
    yield `${i === 0 ? "" : ","}[${JSON.stringify(headers[i]![0])},`;
    yield* byteArrayJson(Buffer.from(headers[i]![1], "latin1"));
    yield "]";
  }
  yield "]";
}

const COMMA = 0x2c;
const ZERO = 0x30;

/** `[104,105]` for "hi", a slice at a time. */
export function* byteArrayJson(bytes: Uint8Array): Generator<Buffer | string> {
  if (bytes.length === 0) {
    yield "[]";
    return;
  }
  yield "[";
  for (let start = 0; start < bytes.length; start += SLICE) {
    const end = Math.min(bytes.length, start + SLICE);
    const out = Buffer.allocUnsafe((end - start) * 4);
    let p = 0;
    for (let i = start; i < end; i++) {
      if (i > 0) out[p++] = COMMA;
      const b = bytes[i]!;
      if (b >= 100) {
        out[p++] = ZERO + ((b / 100) | 0);
        out[p++] = ZERO + (((b / 10) | 0) % 10);
      } else if (b >= 10) out[p++] = ZERO + ((b / 10) | 0);
      out[p++] = ZERO + (b % 10);
    }
    yield out.subarray(0, p);
  }
  yield "]";
}
