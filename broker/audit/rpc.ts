import { DomainError } from "../../common/errors.js";
import { isUuid } from "../../common/ids.js";
import type { Db } from "../../common/db.js";
import type { SecretBrokerServer } from "../../proto/gen/secutils/broker/v1/broker.js";
import type { Guard } from "../rpc.js";
import { auditOfUser } from "./store.js";

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 100;

export function auditRpc(guard: Guard, db: Db): Pick<SecretBrokerServer, "listAuditEvents"> {
  return {
    listAuditEvents: guard("listAuditEvents", async (req) => {
      if (!isUuid(req.userId)) throw new DomainError("invalid", "user_id must be a UUID");
      const limit = req.limit === 0 ? DEFAULT_LIMIT : req.limit;
      if (limit > MAX_LIMIT) throw new DomainError("invalid", `limit must be at most ${MAX_LIMIT}`);
      if (req.beforeId !== undefined && (!Number.isSafeInteger(req.beforeId) || req.beforeId < 1)) {
        throw new DomainError("invalid", "before_id must be a positive integer");
      }
      // One more than asked tells whether another page exists.
      const rows = await auditOfUser(db, req.userId, req.beforeId, limit + 1);
      const page = rows.slice(0, limit);
      return {
        events: page.map((e) => ({ ...e, at: e.atMs })),
        ...(rows.length > limit ? { nextBeforeId: page.at(-1)!.id } : {}),
      };
    }),
  };
}
