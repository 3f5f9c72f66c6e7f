import crypto from "node:crypto";
import { conflictOnUnique, type Db } from "../../common/db.js";
import { invalid, notFound } from "../../common/errors.js";
import { NAME_AND_DATES, paginate, type Page } from "../http/pagination.js";
import type { TagLabels, TagsService } from "../tags/service.js";
import { insertWithinLimit, type ItemLimit } from "../users/item-limits.js";
import {
  SCRIPT_CONTENT_MAX_BYTES,
  SCRIPT_CONTEXTS,
  SCRIPT_TYPES,
  type CreateUserScript,
  type ScriptContext,
  type ScriptType,
  type UpdateUserScript,
  type UserScript,
  type UserScriptQuery,
} from "./schemas.js";
import * as store from "./store.js";
import type { ScriptRecord } from "./store.js";

const NOT_FOUND = "Script not found";

// The reference's sort allow-list; the first is the default.
const SCRIPT_PAGES = {
  sortBy: { ...NAME_AND_DATES, scriptType: (s: ScriptRecord) => s.type },
  name: (s: ScriptRecord) => s.name,
  id: (s: ScriptRecord) => s.id,
  tagIds: (s: ScriptRecord) => s.tagIds,
};

const duplicateName = (name: string | undefined) => conflictOnUnique(`a script named '${name}' already exists`);

/**
 * `type` (the guide's name) or `scriptType` (the reference's): one value,
 * however it was sent. The schema has refused any other name already; this
 * narrows the string.
 */
function typeOf(input: { type?: string; scriptType?: string }): ScriptType | undefined {
  if (input.type !== undefined && input.scriptType !== undefined && input.type !== input.scriptType) {
    throw invalid("type and scriptType differ: send one of them");
  }
  const sent = input.type ?? input.scriptType;
  if (sent === undefined) return undefined;
  const known = SCRIPT_TYPES.find((t) => t === sent);
  if (known === undefined) throw invalid(`type must be one of ${SCRIPT_TYPES.join(", ")}`);
  return known;
}

function checkContent(content: string | undefined): void {
  if (content !== undefined && Buffer.byteLength(content, "utf8") > SCRIPT_CONTENT_MAX_BYTES) {
    throw invalid(`content must be at most ${SCRIPT_CONTENT_MAX_BYTES} bytes of UTF-8`);
  }
}

function toApi(s: ScriptRecord, labels: TagLabels): UserScript {
  const tags = labels.of(s.tagIds);
  return {
    id: s.id,
    name: s.name,
    scriptType: s.type,
    type: s.type,
    content: s.content,
    ...(tags ? { tags } : {}),
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

/** Reusable script snippets: stored text only, never run from here (an editor imports a copy). */
export class UserScriptsService {
  constructor(
    private readonly db: Db,
    private readonly tags: TagsService,
    private readonly maxPerUser: number,
  ) {}

  async page(userId: string, query: UserScriptQuery): Promise<Page<UserScript>> {
    const [all, labels] = await Promise.all([store.listForUser(this.db, userId), this.tags.labels(userId)]);
    const context = contextOf(query.context);
    const shown = context === undefined ? all : all.filter(inContext(context));
    const page = paginate(shown, query, SCRIPT_PAGES);
    return { items: page.items.map((s) => toApi(s, labels)), total: page.total };
  }

  async get(userId: string, id: string): Promise<UserScript> {
    const script = await store.byId(this.db, userId, id);
    if (!script) throw notFound(NOT_FOUND);
    return toApi(script, await this.tags.labels(userId));
  }

  async create(userId: string, input: CreateUserScript): Promise<UserScript> {
    const type = typeOf(input);
    if (type === undefined) throw invalid("type is required (scriptType is accepted too)");
    checkContent(input.content);
    const tagIds = (await this.tags.checked(userId, input.tagIds)) ?? [];
    const limit: ItemLimit = { table: "user_scripts", lockClass: 6, max: this.maxPerUser, noun: "scripts" };
    const script = await insertWithinLimit(this.db, limit, userId, (q) =>
      store.insert(q, { id: crypto.randomUUID(), userId, name: input.name, type, content: input.content, tagIds }),
    ).catch(duplicateName(input.name));
    return toApi(script, await this.tags.labels(userId));
  }

  async update(userId: string, id: string, change: UpdateUserScript): Promise<UserScript> {
    const type = typeOf(change);
    if (change.name === undefined && type === undefined && change.content === undefined && change.tagIds === undefined) {
      throw invalid("nothing to update: send name, type, content, tagIds or any of them");
    }
    checkContent(change.content);
    const tagIds = await this.tags.checked(userId, change.tagIds);
    const script = await store.update(this.db, userId, id, { name: change.name, type, content: change.content, tagIds }).catch(duplicateName(change.name));
    if (!script) throw notFound(NOT_FOUND);
    return toApi(script, await this.tags.labels(userId));
  }

  async delete(userId: string, id: string): Promise<void> {
    if (!(await store.remove(this.db, userId, id))) throw notFound(NOT_FOUND);
  }
}

function contextOf(sent: string | undefined): ScriptContext | undefined {
  if (sent === undefined) return undefined;
  if (!Object.hasOwn(SCRIPT_CONTEXTS, sent)) throw invalid(`context must be one of ${Object.keys(SCRIPT_CONTEXTS).join(", ")}`);
  return sent as ScriptContext;
}

function inContext(context: ScriptContext): (s: ScriptRecord) => boolean {
  const types: readonly ScriptType[] = SCRIPT_CONTEXTS[context];
  return (s) => types.includes(s.type);
}
