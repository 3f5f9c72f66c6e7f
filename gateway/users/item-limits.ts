import type { Db, Queryable } from "../../common/db.js";
import { DomainError } from "../../common/errors.js";

/**
 * How many rows of one kind a user may have. Its lock class serialises one
 * user's creates of that kind (an advisory lock per user), so that the count
 * and the insert agree however many creates arrive at once.
 */
export interface ItemLimit {
  /** From this closed list, never from input: it is written into the SQL text. */
  table: "user_tags" | "user_scripts" | "responders" | "api_trackers" | "page_trackers";
  lockClass: 6 | 7 | 8 | 9 | 10;
  max: number;
  /** Plural, for the refusal: "a user can have at most 100 responders". */
  noun: string;
}

/** Runs `insert` in a transaction, refused with a limit error when the user already has `max` rows. */
export function insertWithinLimit<T>(db: Db, limit: ItemLimit, userId: string, insert: (q: Queryable) => Promise<T>): Promise<T> {
  return db.tx(async (q) => {
    await q.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [limit.lockClass, userId]);
    const [row] = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${limit.table} WHERE user_id = $1`, [userId]);
    if ((row?.n ?? 0) >= limit.max) throw new DomainError("limit", `a user can have at most ${limit.max} ${limit.noun}`);
    return insert(q);
  });
}
