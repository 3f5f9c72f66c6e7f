import type { SecretMetadata } from "../../proto/gen/secutils/broker/v1/broker.js";
import { invalid } from "../../common/errors.js";
import { NAME_AND_DATES, paginate, type ListQueryValues, type Page } from "../http/pagination.js";
import type { EntityTag } from "../tags/schemas.js";
import type { TagLabels, TagsService } from "../tags/service.js";
import type { SecretsService } from "./service.js";

/** A secret's metadata as the REST API answers it: with its tags, never a value. */
export type SecretShown = SecretMetadata & { tags?: EntityTag[] };

type Tagged = SecretMetadata & { tagIds: readonly string[] };

// The reference's sort allow-list for secrets; the first is the default.
const SECRET_PAGES = { sortBy: NAME_AND_DATES, name: (s: Tagged) => s.name, id: (s: Tagged) => s.id, tagIds: (s: Tagged) => s.tagIds };

function shown({ tagIds, ...meta }: Tagged, labels: TagLabels): SecretShown {
  const tags = labels.of(tagIds);
  return tags ? { ...meta, tags } : meta;
}

/**
 * The secrets API with tags. Secrets live in the broker's database and their
 * tags in the gateway's: a secret's tags are written once the broker has
 * answered its write (checked before it; a new secret whose tags cannot be
 * written is deleted again), and leave with it when it goes (`secretDeleted`,
 * run after every delete).
 */
export class TaggedSecrets {
  constructor(
    private readonly secrets: SecretsService,
    private readonly tags: TagsService,
  ) {}

  secretDeleted(userId: string, id: string): Promise<void> {
    return this.tags.setSecretTags(userId, id, []);
  }

  /** One page of the user's secrets' metadata (at most 100 per user, so paged here). */
  async page(userId: string, query: ListQueryValues): Promise<Page<SecretShown>> {
    const [list, tagIds, labels] = await Promise.all([this.secrets.list(userId), this.tags.secretTags(userId), this.tags.labels(userId)]);
    const page = paginate(
      list.map((meta) => ({ ...meta, tagIds: tagIds.get(meta.id) ?? [] })),
      query,
      SECRET_PAGES,
    );
    return { items: page.items.map((s) => shown(s, labels)), total: page.total };
  }

  async create(userId: string, input: { name: string; value: string; tagIds?: string[] }): Promise<SecretShown> {
    const tagIds = (await this.tags.checked(userId, input.tagIds)) ?? [];
    const meta = await this.secrets.create(userId, input.name, input.value);
    if (tagIds.length > 0) {
      try {
        await this.tags.setSecretTags(userId, meta.id, tagIds);
      } catch (err) {
        // The client is told the create failed: so it should have. Undone at
        // the broker (best effort: if that fails too, an untagged secret
        // stays, as the list then shows), or a retry would meet a name taken
        // by a secret the client was never told of.
        await this.secrets.delete(userId, meta.id).catch(() => undefined);
        throw err;
      }
    }
    return shown({ ...meta, tagIds }, await this.tags.labels(userId));
  }

  /** A rename, a rotation, new tags, or any of them; tags alone leave the broker's record as it is. */
  async update(userId: string, id: string, change: { name?: string; value?: string; tagIds?: string[] }): Promise<SecretShown> {
    if (change.name === undefined && change.value === undefined && change.tagIds === undefined) {
      throw invalid("nothing to update: send name, value, tagIds or any of them");
    }
    const tagIds = await this.tags.checked(userId, change.tagIds);
    const { tagIds: _sent, ...broker } = change;
    const meta =
      broker.name === undefined && broker.value === undefined && tagIds !== undefined
        ? await this.secrets.get(userId, id)
        : await this.secrets.update(userId, id, broker);
    if (tagIds !== undefined) await this.tags.setSecretTags(userId, meta.id, tagIds);
    const kept = tagIds ?? (await this.tags.secretTags(userId)).get(meta.id) ?? [];
    return shown({ ...meta, tagIds: kept }, await this.tags.labels(userId));
  }

  delete(userId: string, id: string): Promise<void> {
    return this.secrets.delete(userId, id);
  }

  audit(userId: string, page: { limit?: string; before?: string }) {
    return this.secrets.audit(userId, page);
  }
}
