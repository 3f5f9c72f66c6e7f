/** One stored item of a long read, and what it weighs in the database. */
export interface Weighed {
  id: string;
  bytes: number;
}

/** What a long read will send: its weight, known before any of it is loaded, and its items as they are loaded. */
export interface LongRead<T> {
  bytes: number;
  items: AsyncIterable<T>;
}

/** Items loaded per query, by their stored weight (one at least, whatever it weighs). */
export const PART_BYTES = 4 * 1024 * 1024;

/**
 * The items of `index`, in its order, loaded a part at a time as the reader
 * takes them: a history of tens of MiB is never held whole, and a slow reader
 * holds one part. Items gone since the index was read (trimmed, cleared) are
 * left out; `load` answers the ids it still finds, in any order.
 */
export function loadInParts<T extends { id: string }>(index: readonly Weighed[], load: (ids: string[]) => Promise<T[]>, partBytes = PART_BYTES): LongRead<T> {
  const bytes = index.reduce((sum, w) => sum + w.bytes, 0);
  async function* items(): AsyncGenerator<T> {
    for (let start = 0; start < index.length; ) {
      let end = start + 1;
      for (let weight = index[start]!.bytes; end < index.length && weight + index[end]!.bytes <= partBytes; end++) weight += index[end]!.bytes;
      const ids = index.slice(start, end).map((w) => w.id);
      const found = new Map((await load(ids)).map((item) => [item.id, item]));
      for (const id of ids) {
        const item = found.get(id);
        if (item) yield item;
      }
      start = end;
    }
  }
  return { bytes, items: items() };
}
