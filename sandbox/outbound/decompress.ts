// Transparent decompression of op_proxy_request and API tracker responses,
// as the body arrives: the caller counts every decoded chunk against its
// limits and stops the decoder the moment one is passed, so a small body
// that expands without bound (a decompression bomb) never grows in memory
// beyond the limit and one chunk.
import zlib from "node:zlib";
import { Decompress } from "fzstd";
import { ZstdFrameWalker } from "./zstd-frames.js";

export type Coding = "gzip" | "deflate" | "br" | "zstd";

/** The coding named by a Content-Encoding value, or undefined for identity, a list of codings or an unknown one (passed on as is). */
export function codingOf(header: string | undefined): Coding | undefined {
  switch (header?.trim().toLowerCase()) {
    case "gzip":
    case "x-gzip":
      return "gzip";
    case "deflate":
      return "deflate";
    case "br":
      return "br";
    case "zstd":
      return "zstd";
    default:
      return undefined;
  }
}

/** How failures name the coding (the reference's wording). */
const NAMES: Record<Coding, string> = { gzip: "gzip", deflate: "deflate", br: "brotli", zstd: "zstd" };

export interface DecoderEvents {
  /** A decoded chunk; the decoder has been stopped when this returns false. */
  data(chunk: Buffer): boolean;
  end(): void;
  error(message: string): void;
  /** The decoder takes input again after write() returned false. */
  drain(): void;
}

export interface BodyDecoder {
  /** False: hold further input until drain. */
  write(chunk: Buffer): boolean;
  end(): void;
  destroy(): void;
}

/**
 * A decoder for `coding`. `maxWindowBytes` bounds what a zstd frame may ask
 * to be allocated up front (gzip, deflate and brotli windows are small by
 * design).
 */
export function createDecoder(coding: Coding, events: DecoderEvents, maxWindowBytes: number): BodyDecoder {
  const failed = (reason: string) => events.error(`Failed to decompress ${NAMES[coding]} response body: ${reason}`);
  if (coding === "zstd") return zstdDecoder(events, failed, maxWindowBytes);
  if (coding === "deflate") return deflateDecoder(events, failed);
  return streamDecoder(coding === "gzip" ? zlib.createGunzip() : zlib.createBrotliDecompress(), events, failed);
}

function streamDecoder(stream: zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | zlib.BrotliDecompress, events: DecoderEvents, failed: (reason: string) => void): BodyDecoder {
  let stopped = false;
  stream.on("data", (chunk: Buffer) => {
    if (stopped) return;
    if (!events.data(chunk)) stop();
  });
  stream.on("end", () => {
    if (!stopped) events.end();
  });
  // Node's zlib messages ("incorrect header check", "unexpected end of file") name no host detail.
  stream.on("error", (error: Error) => {
    if (stopped) return;
    stopped = true;
    failed(error.message);
  });
  stream.on("drain", () => events.drain());
  const stop = () => {
    stopped = true;
    stream.destroy();
  };
  return {
    write: (chunk) => stopped || stream.write(chunk),
    end: () => void (stopped || stream.end()),
    destroy: stop,
  };
}

// HTTP's "deflate" is zlib-wrapped (RFC 9110 8.4.1.2), yet some servers send
// raw deflate: the first two bytes tell which.
function deflateDecoder(events: DecoderEvents, failed: (reason: string) => void): BodyDecoder {
  let inner: BodyDecoder | undefined;
  let head = Buffer.alloc(0);
  let destroyed = false;
  return {
    write(chunk) {
      if (inner) return inner.write(chunk);
      head = Buffer.concat([head, chunk]);
      if (head.length < 2) return true;
      const zlibWrapped = (head[0]! & 0x0f) === 8 && ((head[0]! << 8) | head[1]!) % 31 === 0;
      inner = streamDecoder(zlibWrapped ? zlib.createInflate() : zlib.createInflateRaw(), events, failed);
      return inner.write(head);
    },
    end() {
      if (destroyed) return;
      if (inner) return inner.end();
      failed("unexpected end of file");
    },
    destroy() {
      destroyed = true;
      inner?.destroy();
    },
  };
}

class Stop extends Error {}

// fzstd decodes synchronously, block by block (a block is at most 128 KiB
// of output), calling back with each one: a limit passed stops it at once.
function zstdDecoder(events: DecoderEvents, failed: (reason: string) => void, maxWindowBytes: number): BodyDecoder {
  const walker = new ZstdFrameWalker(maxWindowBytes);
  let stopped = false;
  const decoder = new Decompress((chunk) => {
    if (chunk.length > 0 && !events.data(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length))) {
      stopped = true;
      throw new Stop();
    }
  });
  const feed = (chunk: Buffer, final: boolean) => {
    if (stopped) return;
    try {
      const checked = walker.push(chunk);
      if (final && !walker.complete) throw new Error("unexpected end of file");
      if (checked.length > 0 || final) decoder.push(checked, final);
    } catch (error) {
      if (error instanceof Stop || stopped) return;
      stopped = true;
      failed(error instanceof Error ? error.message : "invalid data");
      return;
    }
    if (final) events.end();
  };
  return {
    write(chunk) {
      feed(chunk, false);
      return true;
    },
    end: () => feed(Buffer.alloc(0), true),
    destroy() {
      stopped = true;
    },
  };
}
