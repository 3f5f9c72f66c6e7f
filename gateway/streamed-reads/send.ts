import { Readable } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { FastifyReply } from "fastify";
import type { LongReads } from "./turns.js";
import type { LongRead } from "./parts.js";

/** Text gathered before each write; between writes other requests get their turn. */
const CHUNK_BYTES = 64 * 1024;

/**
 * Sends a long read as a JSON array, each item's text from `pieces`, written
 * as the reader takes it. The read's place is given back when the response
 * ends, however it ends. Encoding never holds the event loop for more than a
 * chunk's worth of text: a history of tens of MiB once froze every other
 * request for seconds while it was turned into one string.
 */
export function sendJsonArray<T>(
  reply: FastifyReply,
  read: LongRead<T>,
  pieces: (item: T) => Iterable<Buffer | string>,
  place: { reads: LongReads; userId: string },
): FastifyReply {
  place.reads.holdUntilAnswered(reply, place.userId, read.bytes);
  const stream = Readable.from(arrayText(read, pieces), { objectMode: false });
  return reply.type("application/json; charset=utf-8").send(stream);
}

async function* arrayText<T>(read: LongRead<T>, pieces: (item: T) => Iterable<Buffer | string>): AsyncGenerator<Buffer> {
  let held: Buffer[] = [Buffer.from("[")];
  let heldBytes = 1;
  let first = true;
  for await (const item of read.items) {
    if (!first) {
      held.push(Buffer.from(","));
      heldBytes += 1;
    }
    first = false;
    for (const piece of pieces(item)) {
      const b = typeof piece === "string" ? Buffer.from(piece) : piece;
      held.push(b);
      heldBytes += b.length;
      if (heldBytes >= CHUNK_BYTES) {
        yield Buffer.concat(held, heldBytes);
        held = [];
        heldBytes = 0;
        await nextTurn();
      }
    }
  }
  held.push(Buffer.from("]"));
  yield Buffer.concat(held);
}
