import { DomainError } from "../../common/errors.js";
import { isUuid } from "../../common/ids.js";
import type { Db } from "../../common/db.js";
import type { SecretBrokerServer } from "../../proto/gen/secutils/broker/v1/broker.js";
import type { Guard } from "../rpc.js";
import { appendAudit, auditOfUser } from "./store.js";

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 100;
// As many ids as one access setting may list.
const MAX_REFUSED_IDS = 100;
// What an access setting belongs to; the kind alone for one being created.
const CONSUMER = /^(responder|api_tracker|page_tracker)(:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$/;

export function auditRpc(guard: Guard, db: Db): Pick<SecretBrokerServer, "listAuditEvents" | "recordGrantRefusal"> {
  return {
    // Every field is checked to its shape, and the reason is written here, so
    // nothing free-form (and so no value) can reach the audit table this way.
    recordGrantRefusal: guard("recordGrantRefusal", async (req, ctx) => {
      const invalid = (message: string) => new DomainError("invalid", message);
      if (!isUuid(req.userId)) throw invalid("user_id must be a UUID");
      if (!isUuid(req.apiKeyId)) throw invalid("api_key_id must be a UUID");
      if (!CONSUMER.test(req.consumer)) throw invalid("consumer must be responder, api_tracker or page_tracker, with :<id> or alone");
      if (req.secretIds.length > MAX_REFUSED_IDS) throw invalid(`secret_ids must hold at most ${MAX_REFUSED_IDS} ids`);
      if (!req.secretIds.every(isUuid)) throw invalid("secret_ids must be UUIDs");
      if (req.all === (req.secretIds.length > 0)) throw invalid("set either all or secret_ids");
      await appendAudit(db, {
        caller: ctx.identity,
        rpc: "recordGrantRefusal",
        outcome: "refused",
        reason: `API key ${req.apiKeyId.toLowerCase()} lacks the secrets:grant scope${req.all ? " (asked for all secrets)" : ""}`,
        userId: req.userId,
        secretIds: req.secretIds,
        consumer: req.consumer,
      });
      return {};
    }),
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
