import { Type, type TSchema } from "@sinclair/typebox";
import { isUuid } from "../../common/ids.js";

// The reference pages every collection the same way: `page` from 0, `pageSize`
// 15 by default and clamped to 1..100, `sort` from a per-collection allow-list
// (an unknown field falls back to the default), `order` asc|desc, and `q`
// matched case-insensitively against the name or exactly against the id.
export const DEFAULT_PAGE_SIZE = 15;
export const MAX_PAGE_SIZE = 100;

/** Query parameters of every list endpoint. Values arrive as strings (the validator does not coerce). */
export const ListQuery = Type.Object(
  {
    page: Type.Optional(Type.String({ pattern: "^[0-9]{1,9}$", description: "Zero-based page index (default 0)" })),
    pageSize: Type.Optional(
      Type.String({ pattern: "^[0-9]{1,9}$", description: `Items per page (default ${DEFAULT_PAGE_SIZE}, clamped to 1-${MAX_PAGE_SIZE})` }),
    ),
    sort: Type.Optional(Type.String({ maxLength: 64, description: "Field to sort by; an unknown field sorts by name" })),
    order: Type.Optional(Type.Union([Type.Literal("asc"), Type.Literal("desc")], { description: "Sort direction (default asc)" })),
    q: Type.Optional(Type.String({ maxLength: 256, description: "Name contains (case-insensitive), or the exact id" })),
    // The reference's tag filters; what is not a tag id is skipped, as there.
    tags: Type.Optional(Type.String({ maxLength: 4096, description: "Tag ids, comma-separated: items with any of them" })),
    globalTags: Type.Optional(Type.String({ maxLength: 4096, description: "Tag ids, comma-separated: items with all of them" })),
  },
  // The reference ignores parameters it does not know (a client's cache buster, say); so do we.
  { additionalProperties: true },
);

export interface ListQueryValues {
  page?: string;
  pageSize?: string;
  sort?: string;
  order?: "asc" | "desc";
  q?: string;
  tags?: string;
  globalTags?: string;
}

export interface Page<T> {
  items: T[];
  total: number;
}

/** The response schema of a paged collection of `item`. */
export function pageSchema(item: TSchema, description: string) {
  return Type.Object(
    {
      items: Type.Array(item, { description: "Items on this page" }),
      total: Type.Integer({ minimum: 0, description: "Items matching the filter across all pages" }),
    },
    { description },
  );
}

type SortValue = string | number;

export interface PageRules<T> {
  /** Sortable fields by their query name; the first one is the default. */
  sortBy: Record<string, (item: T) => SortValue>;
  name: (item: T) => string;
  id: (item: T) => string;
  /** The item's tags' ids, for the `tags` and `globalTags` filters; without it they filter nothing. */
  tagIds?: (item: T) => readonly string[];
}

function idsOf(csv: string | undefined): string[] {
  return (csv ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(isUuid);
}

/**
 * The reference's tag filters: `tags`, items with any of these tags;
 * `globalTags`, items with all of them. Undefined when neither names a tag.
 */
export function tagFilter(query: Pick<ListQueryValues, "tags" | "globalTags">): ((tagIds: readonly string[]) => boolean) | undefined {
  const any = idsOf(query.tags);
  const all = idsOf(query.globalTags);
  if (any.length === 0 && all.length === 0) return undefined;
  return (tagIds) => (any.length === 0 || any.some((id) => tagIds.includes(id))) && all.every((id) => tagIds.includes(id));
}

export const NAME_AND_DATES = {
  name: (i: { name: string }) => i.name,
  createdAt: (i: { createdAt: number }) => i.createdAt,
  updatedAt: (i: { updatedAt: number }) => i.updatedAt,
};

function compare(a: SortValue, b: SortValue): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b));
}

/**
 * One page of a user's collection. Collections are per-user and bounded by the
 * per-user limits, so paging the loaded list costs less than a second query.
 * Ties are broken by id so pages never overlap or skip an item.
 */
export function paginate<T>(all: readonly T[], query: ListQueryValues, rules: PageRules<T>): Page<T> {
  const page = query.page === undefined ? 0 : Number(query.page);
  const size = Math.min(MAX_PAGE_SIZE, Math.max(1, query.pageSize === undefined ? DEFAULT_PAGE_SIZE : Number(query.pageSize)));
  const q = query.q?.trim().toLowerCase() ?? "";
  const tagged = tagFilter(query);
  const tagIds = rules.tagIds;
  const byTags = tagged === undefined || tagIds === undefined ? all : all.filter((i) => tagged(tagIds(i)));
  const matching = q === "" ? [...byTags] : byTags.filter((i) => rules.name(i).toLowerCase().includes(q) || rules.id(i) === query.q?.trim());
  const field = query.sort !== undefined && Object.hasOwn(rules.sortBy, query.sort) ? query.sort : Object.keys(rules.sortBy)[0];
  const key = field === undefined ? rules.name : rules.sortBy[field] ?? rules.name;
  const sign = query.order === "desc" ? -1 : 1;
  matching.sort((a, b) => sign * (compare(key(a), key(b)) || compare(rules.id(a), rules.id(b))));
  return { items: matching.slice(page * size, page * size + size), total: matching.length };
}
