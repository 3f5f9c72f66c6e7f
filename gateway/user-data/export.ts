import { invalid } from "../../common/errors.js";
import type { HistoryEntry } from "../responders/history-store.js";
import { revisionJson } from "../trackers/revision-json.js";
import { COLLECTIONS, DOCUMENT_VERSION, FOREIGN_COLLECTIONS, type Collection, type ExportParams, type Selection } from "./schemas.js";
import { Turns, type TurnLimits } from "./turns.js";
import { listAll, type Shown, type WorkspaceServices } from "./workspace.js";

export const VALUES_NOT_EXPORTED =
  "secret values are write-only: no export carries them, encrypted or not. Leave out secretsPassphrase to export the secrets' names";

const HISTORY_FLAG = { responders: "respondersHistory", apiTrackers: "apiTrackersHistory", pageTrackers: "pageTrackersHistory" } as const;

/** Which items a selection takes, or undefined when the collection is not exported. */
function chosen(selection: Selection | undefined): ((id: string) => boolean) | undefined {
  if (selection === undefined || selection === false) return undefined;
  if (selection === true || selection.type === "all") return () => true;
  const ids = new Set(selection.ids.map((id) => id.toLowerCase()));
  return (id) => ids.has(id);
}

const text = (b: Buffer) => b.toString("utf8");
const headerObject = (pairs: readonly (readonly [string, string])[]) => Object.fromEntries(pairs);

/** A history entry in the reference's export shape (bodies as text). */
function historyItem(h: HistoryEntry) {
  return {
    id: h.publicId,
    responderId: h.responderId,
    ...(h.clientAddress === undefined ? {} : { clientAddress: h.clientAddress }),
    method: h.method,
    headers: headerObject(h.headers),
    url: h.url,
    ...(h.body.length > 0 ? { body: text(h.body) } : {}),
    createdAt: h.createdAt,
    durationMs: Math.round(h.durationUs / 1000),
    ...(h.response
      ? {
          responseStatusCode: h.response.statusCode,
          responseHeaders: headerObject(h.response.headers),
          ...(h.response.body.length > 0 ? { responseBody: text(h.response.body) } : {}),
        }
      : {}),
  };
}

/** An item's history in the document, an entry's JSON text at a time: a responder's recorded requests, a tracker's revisions. */
async function historyOf(services: WorkspaceServices, collection: Collection, userId: string, id: string): Promise<AsyncIterable<string> | Iterable<string>> {
  switch (collection) {
    case "responders":
      return mapped((await services.responders.historyInParts(userId, id)).items, (h) => JSON.stringify(historyItem(h)));
    case "apiTrackers":
    case "pageTrackers":
      return mapped((await services[collection].historyInParts(userId, id)).items, revisionJson);
    default:
      return [];
  }
}

async function* mapped<A, B>(items: AsyncIterable<A>, f: (a: A) => B): AsyncGenerator<B> {
  for await (const a of items) yield f(a);
}

/** The collections an export's `include` asks for. */
export const exported = (include: ExportParams["include"]): Collection[] => COLLECTIONS.filter((c) => chosen(include[c]) !== undefined);

/** USER_DATA_EXPORT_MAX_BYTES's default. */
export const DEFAULT_EXPORT_MAX_BYTES = 128 * 1024 * 1024;

/**
 * Exports running at once, and running or waiting in all. Each holds up to
 * its document two or three times over (the parts, the joined text, the
 * bytes on their way), so a burst of them, even from one account, could
 * otherwise take the gateway's memory; an account has one at a time.
 */
export const EXPORT_TURNS: TurnLimits = { concurrency: 2, maxQueued: 8 };

export const exportTurns = () =>
  new Turns(EXPORT_TURNS, { account: "an export is already in progress for this account; retry when it ends", all: "too many exports are in progress; retry shortly" });

/** A document's text as it is built, refused once it passes `max` bytes of UTF-8. */
class BoundedText {
  private readonly parts: string[] = [];
  private bytes = 0;

  constructor(private readonly max: number) {}

  add(text: string): void {
    this.bytes += Buffer.byteLength(text);
    if (this.bytes > this.max) {
      throw invalid(
        `the export would be larger than ${this.max} bytes: leave out the history (respondersHistory, apiTrackersHistory, pageTrackersHistory), or export fewer collections at a time`,
      );
    }
    this.parts.push(text);
  }

  text(): string {
    return this.parts.join("");
  }
}

/**
 * The caller's workspace as one document, collection by collection as asked,
 * as JSON text of at most `maxBytes` bytes. Secrets go by name (and
 * tags) only: a value never leaves the broker, so a request for values is
 * refused rather than answered without them. The text is built item by item,
 * each item's history read a part at a time when its turn comes: held whole,
 * an account's history and revisions (hundreds of MiB) with their parsed and
 * serialized copies could take the gateway's memory, or pass the longest
 * string it can make, for every user at once.
 */
export async function exportWorkspace(services: WorkspaceServices, userId: string, params: ExportParams, maxBytes: number, now = Date.now()) {
  const { include } = params;
  if (chosen(include.secrets) && params.secretsPassphrase) throw invalid(VALUES_NOT_EXPORTED);
  const exportedAt = Math.floor(now / 1000);
  const out = new BoundedText(maxBytes);
  out.add(`{"version":${DOCUMENT_VERSION},"exportedAt":${exportedAt},"data":{`);
  let first = true;
  const member = (name: string) => {
    out.add(`${first ? "" : ","}${JSON.stringify(name)}:`);
    first = false;
  };
  for (const collection of COLLECTIONS) {
    const selection = include[collection];
    const takes = chosen(selection);
    if (!takes) continue;
    const items: Shown[] = (await listAll(services, userId, collection)).filter((item) => takes(item.id));
    const flag = collection in HISTORY_FLAG ? HISTORY_FLAG[collection as keyof typeof HISTORY_FLAG] : undefined;
    const withHistory = flag !== undefined && (include[flag] === true || (typeof selection === "object" && selection.includeHistory === true));
    member(collection);
    out.add("[");
    for (const [i, item] of items.entries()) {
      const text = JSON.stringify(item);
      if (!withHistory) {
        out.add(`${i === 0 ? "" : ","}${text}`);
        continue;
      }
      // As JSON.stringify({...item, history}) writes it, an entry at a time, so
      // that a history past the bound is refused before the rest is loaded.
      out.add(`${i === 0 ? "" : ","}${text.slice(0, -1)},"history":[`);
      let n = 0;
      for await (const entry of await historyOf(services, collection, userId, item.id)) out.add(`${n++ === 0 ? "" : ","}${entry}`);
      out.add("]}");
    }
    out.add("]");
  }
  // The reference's collections this product does not keep: asked for, each is an empty list, so that a reader finds every key it asked for.
  for (const collection of FOREIGN_COLLECTIONS) {
    if (!chosen(include[collection])) continue;
    member(collection);
    out.add("[]");
  }
  // Asked for, the user's settings; an empty map when there are none.
  if (include.settings === true) {
    member("settings");
    out.add(JSON.stringify((await services.settings.get(userId)) ?? {}));
  }
  out.add("}}");
  return { exportedAt, json: out.text() };
}
