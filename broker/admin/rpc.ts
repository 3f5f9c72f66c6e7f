import type { Db } from "../../common/db.js";
import type { SecretBrokerServer } from "../../proto/gen/secutils/broker/v1/broker.js";
import type { KeyRing } from "../keyring/keyring.js";
import type { Guard } from "../rpc.js";
import { rewrapAll, verifyAll } from "./rewrap.js";

export function adminRpc(guard: Guard, db: Db, ring: KeyRing): Pick<SecretBrokerServer, "rewrap" | "verify"> {
  return {
    rewrap: guard("rewrap", (req) => rewrapAll(db, ring, Math.min(req.batchSize || 100, 1000))),
    verify: guard("verify", (_req) => verifyAll(db, ring)),
  };
}
