import type { IncomingMessage } from "node:http";
import { errorCodes } from "fastify";

/**
 * Fastify reads no body for GET, HEAD and TRACE. A webhook caller may still
 * send one (curl -X GET -d ...), and the responder's script and history must
 * see it, so for those methods the body is read here.
 */
export const BODYLESS_FOR_FASTIFY: ReadonlySet<string> = new Set(["GET", "HEAD", "TRACE"]);

/** Whether the request announces a body (a length above 0, or chunked framing). */
export function announcesBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/**
 * The whole body, refused past `limit` bytes with the same error fastify gives
 * other methods (413). What is left of a refused body Node drains after the answer.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers["content-length"]) > limit) {
      reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > limit) {
        refused = true;
        chunks.length = 0;
        reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks, size)));
    req.on("error", reject);
  });
}
