import crypto from "node:crypto";
import { conflictOnUnique, type Db } from "../../common/db.js";
import { invalid, notFound } from "../../common/errors.js";
import { NAME_AND_DATES, paginate, type ListQueryValues, type Page } from "../http/pagination.js";
import { TAG_NAME_MAX, type CreateTag, type EntityTag, type UpdateTag, type UserTag } from "./schemas.js";
import { insertWithinLimit, type ItemLimit } from "../users/item-limits.js";
import * as store from "./store.js";
import type { TagRecord } from "./store.js";

const NOT_FOUND = "Tag not found";
const TAG_PAGES = { sortBy: NAME_AND_DATES, name: (t: TagRecord) => t.name, id: (t: TagRecord) => t.id };

/** Trimmed and lowercased, as the reference keeps tag names. */
function normalName(name: string): string {
  const n = name.trim().toLowerCase();
  if (n === "" || [...n].length > TAG_NAME_MAX) throw invalid(`name must be 1-${TAG_NAME_MAX} characters once trimmed`);
  return n;
}

const duplicateName = (name: string | undefined) => conflictOnUnique(`a tag named '${name}' already exists`);

const toApi = (t: TagRecord): UserTag => ({ id: t.id, name: t.name, color: t.color, createdAt: t.createdAt, updatedAt: t.updatedAt });

/** A user's tags by id, to show an item's `tags`. */
export class TagLabels {
  private readonly byId: Map<string, EntityTag>;

  constructor(tags: readonly TagRecord[]) {
    this.byId = new Map(tags.map((t) => [t.id, { id: t.id, name: t.name, color: t.color }]));
  }

  /** The item's tags by name, or undefined when it has none (an id whose tag is gone is skipped). */
  of(tagIds: readonly string[]): EntityTag[] | undefined {
    const shown = tagIds.flatMap((id) => this.byId.get(id) ?? []);
    if (shown.length === 0) return undefined;
    return shown.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }
}

/** A user's tags, and the checks and labels every tagged item uses; knows nothing of HTTP. */
export class TagsService {
  constructor(
    private readonly db: Db,
    private readonly maxPerUser: number,
  ) {}

  async page(userId: string, query: ListQueryValues): Promise<Page<UserTag>> {
    const page = paginate(await store.listForUser(this.db, userId), query, TAG_PAGES);
    return { items: page.items.map(toApi), total: page.total };
  }

  async create(userId: string, input: CreateTag): Promise<UserTag> {
    const name = normalName(input.name);
    const limit: ItemLimit = { table: "user_tags", lockClass: 7, max: this.maxPerUser, noun: "tags" };
    const tag = await insertWithinLimit(this.db, limit, userId, (q) => store.insert(q, { id: crypto.randomUUID(), userId, name, color: input.color ?? "default" })).catch(
      duplicateName(name),
    );
    return toApi(tag);
  }

  /** Either field or both; with neither, the tag as it is (the reference's answer). */
  async update(userId: string, id: string, change: UpdateTag): Promise<UserTag> {
    const name = change.name === undefined ? undefined : normalName(change.name);
    const tag = await store.update(this.db, userId, id, { name, color: change.color }).catch(duplicateName(name));
    if (!tag) throw notFound(NOT_FOUND);
    return toApi(tag);
  }

  /** The tag leaves every item that had it, in the same transaction. */
  async delete(userId: string, id: string): Promise<void> {
    if (!(await this.db.tx((q) => store.removeEverywhere(q, userId, id)))) throw notFound(NOT_FOUND);
  }

  /**
   * An item's `tagIds` as sent, checked: each one a tag of the user's, each
   * once. Undefined stays undefined (an update that leaves the tags alone).
   */
  async checked(userId: string, tagIds: readonly string[] | undefined): Promise<string[] | undefined> {
    if (tagIds === undefined) return undefined;
    const ids = [...new Set(tagIds.map((id) => id.toLowerCase()))];
    if (ids.length === 0) return [];
    const owned = await store.ownedIds(this.db, userId, ids);
    const unknown = ids.filter((id) => !owned.has(id));
    if (unknown.length > 0) throw invalid(`tagIds: no tag of yours has the id ${unknown.join(", ")}`);
    return ids;
  }

  async labels(userId: string): Promise<TagLabels> {
    return new TagLabels(await store.listForUser(this.db, userId));
  }

  secretTags(userId: string): Promise<Map<string, string[]>> {
    return store.secretTagsOfUser(this.db, userId);
  }

  setSecretTags(userId: string, secretId: string, tagIds: readonly string[]): Promise<void> {
    return store.setSecretTags(this.db, userId, secretId, tagIds);
  }
}
