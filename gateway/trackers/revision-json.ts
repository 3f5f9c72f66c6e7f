import { contentJson } from "./content.js";
import type { RevisionRecord } from "./revisions-store.js";

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * A revision as `_history` answers it: `{id, trackerId, data: {original},
 * createdAt}`, in pieces. JSON content already as JSON.stringify writes it
 * (its stored form, content.ts) is written as the bytes stored, never parsed
 * nor decoded: parsed and reformatted, 30 revisions of 7.4 MB took the
 * gateway's thread for 250 ms each.
 */
export function revisionPieces(r: RevisionRecord): (string | Buffer)[] {
  const head = `{"id":${JSON.stringify(r.id)},"trackerId":${JSON.stringify(r.trackerId)},"data":{"original":`;
  const original = r.form === "json" ? withoutBom(r.content) : contentJson(r.content, r.form);
  return [head, original, `},"createdAt":${JSON.stringify(r.createdAt)}}`];
}

/** The same as one text, as an export carries it. */
export const revisionJson = (r: RevisionRecord): string => revisionPieces(r).map((p) => (typeof p === "string" ? p : p.toString("utf8"))).join("");

// JSON text stored after a byte order mark: its form was decided on the text without it.
const withoutBom = (content: Buffer) => (content.subarray(0, 3).equals(BOM) ? content.subarray(3) : content);
