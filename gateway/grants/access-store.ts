import type { Queryable } from "../../common/db.js";

/** Tables whose rows carry an access setting as `secrets_access` + `secret_ids`. */
export type AccessTable = "responders" | "api_trackers" | "page_trackers";

/**
 * Takes a deleted secret out of every access list of the user in `table`; an
 * emptied list becomes "none". Returns how many rows changed. The table name
 * comes from the closed list above, never from input.
 */
export async function removeSecretFromAccessLists(q: Queryable, table: AccessTable, userId: string, secretId: string): Promise<number> {
  const rows = await q.query(
    `UPDATE ${table} SET
       secret_ids = array_remove(secret_ids, $2::uuid),
       secrets_access = CASE WHEN cardinality(array_remove(secret_ids, $2::uuid)) = 0 THEN 'none' ELSE secrets_access END,
       updated_at = now()
     WHERE user_id = $1 AND secret_ids @> ARRAY[$2::uuid]
     RETURNING id`,
    [userId, secretId],
  );
  return rows.length;
}
