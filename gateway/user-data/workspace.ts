import type { GrantCheck } from "../grants/grant-guard.js";
import type { ListQueryValues, Page } from "../http/pagination.js";
import type { HistoryEntry } from "../responders/history-store.js";
import type { LongRead } from "../streamed-reads/parts.js";
import type { CreateResponder, Responder, UpdateResponder } from "../responders/schemas.js";
import type { SecretShown } from "../secrets/tagged.js";
import type { CreateTag, UpdateTag, UserTag } from "../tags/schemas.js";
import type { RevisionRecord } from "../trackers/revisions-store.js";
import type { TrackerInput, TrackerView } from "../trackers/service.js";
import type { CreateUserScript, UpdateUserScript, UserScript } from "../user-scripts/schemas.js";
import type { Collection } from "./schemas.js";

// What export and import need of each collection's own service: the same
// calls (and so the same rules, limits, grant checks and notifications) as
// the collection's REST routes make.

export interface TrackerCollection {
  list(userId: string): Promise<TrackerView<unknown>[]>;
  create(userId: string, input: TrackerInput<unknown>, check?: GrantCheck): Promise<TrackerView<unknown>>;
  update(userId: string, id: string, change: Partial<TrackerInput<unknown>>, check?: GrantCheck): Promise<TrackerView<unknown>>;
  delete(userId: string, id: string): Promise<void>;
  /** The stored revisions, newest first, as `_history` answers them without a run, loaded as they are taken. */
  historyInParts(userId: string, id: string): Promise<LongRead<RevisionRecord>>;
}

export interface WorkspaceServices {
  tags: {
    page(userId: string, query: ListQueryValues): Promise<Page<UserTag>>;
    create(userId: string, input: CreateTag): Promise<UserTag>;
    update(userId: string, id: string, change: UpdateTag): Promise<UserTag>;
    delete(userId: string, id: string): Promise<void>;
  };
  scripts: {
    page(userId: string, query: ListQueryValues): Promise<Page<UserScript>>;
    create(userId: string, input: CreateUserScript): Promise<UserScript>;
    update(userId: string, id: string, change: UpdateUserScript): Promise<UserScript>;
    delete(userId: string, id: string): Promise<void>;
  };
  secrets: {
    page(userId: string, query: ListQueryValues): Promise<Page<SecretShown>>;
    create(userId: string, input: { name: string; value: string; tagIds?: string[] }): Promise<SecretShown>;
    update(userId: string, id: string, change: { name?: string; value?: string; tagIds?: string[] }): Promise<SecretShown>;
  };
  responders: {
    page(userId: string, query: ListQueryValues): Promise<Page<Responder>>;
    create(userId: string, input: CreateResponder, check?: GrantCheck): Promise<Responder>;
    update(userId: string, id: string, change: UpdateResponder, check?: GrantCheck): Promise<Responder>;
    delete(userId: string, id: string): Promise<void>;
    historyInParts(userId: string, id: string): Promise<LongRead<HistoryEntry>>;
  };
  apiTrackers: TrackerCollection;
  pageTrackers: TrackerCollection;
  settings: {
    get(userId: string): Promise<Record<string, unknown> | null>;
    /** Replaces the user's settings with the known keys of `settings` whose values are accepted; names the others. */
    replace(userId: string, settings: Record<string, unknown>): Promise<{ left: string[] }>;
  };
}

/** An item as both answers and documents show it: an id, a name, maybe tags; a responder also where it answers. */
export interface Shown {
  id: string;
  name: string;
  tags?: { id: string; name: string; color: string }[];
  location?: unknown;
  method?: unknown;
}

const PAGE_SIZE = 100;

async function everyPage<T>(read: (query: ListQueryValues) => Promise<Page<T>>): Promise<T[]> {
  const all: T[] = [];
  for (let page = 0; ; page++) {
    const { items, total } = await read({ page: String(page), pageSize: String(PAGE_SIZE) });
    all.push(...items);
    if (items.length < PAGE_SIZE || all.length >= total) return all;
  }
}

/** Every item of one collection of the user's, as its GET answers them. */
export function listAll(services: WorkspaceServices, userId: string, collection: Collection): Promise<Shown[]> {
  switch (collection) {
    case "tags":
      return everyPage((q) => services.tags.page(userId, q));
    case "scripts":
      return everyPage((q) => services.scripts.page(userId, q));
    case "secrets":
      return everyPage((q) => services.secrets.page(userId, q));
    case "responders":
      return everyPage((q) => services.responders.page(userId, q));
    case "apiTrackers":
      return services.apiTrackers.list(userId);
    case "pageTrackers":
      return services.pageTrackers.list(userId);
  }
}
