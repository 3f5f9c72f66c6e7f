import type { KeyObject } from "node:crypto";
import type { Db } from "../../common/db.js";
import { DomainError } from "../../common/errors.js";
import { settle, type Settled } from "../../common/grouped-calls.js";
import { MAX_BATCH_RELEASES } from "../../common/grpc-client.js";
import type { Logger } from "../../common/log.js";
import type {
  GrantClaims,
  OpenSecretsRequest,
  RenderTemplatesRequest,
} from "../../proto/gen/secutils/broker/v1/broker.js";
import { appendAudit, type AuditEvent } from "../audit/store.js";
import { ReleaseRecorder } from "../grants/recorder.js";
import { GrantRefused, purposeName, verifyGrant, type Purpose } from "../../common/grant-verify.js";
import { open, OpenError } from "../keyring/envelope.js";
import type { KeyRing } from "../keyring/keyring.js";
import * as store from "../secrets/store.js";
import type { SecretRow } from "../secrets/store.js";
import {
  checkTemplates,
  expandTemplate,
  MAX_RENDERED_BYTES,
  referencedNames,
  renderedBytes,
} from "./templates.js";

type ReleaseRpc = "openSecrets" | "renderTemplates";

// The claims that describe an execution in the audit log.
const described = (c: GrantClaims | undefined): Partial<AuditEvent> =>
  c
    ? { purpose: purposeName(c.purpose), userId: c.userId, executionId: c.executionId, consumer: c.consumer }
    : {};

/**
 * Plaintext release against execution grants. Each call verifies the grant,
 * spends its execution id, decrypts only what it must, and records the
 * release (or the refusal and its reason) in the audit log before answering.
 * Values never reach the audit log, the log or an error message.
 */
export class ReleaseService {
  private readonly recorder: ReleaseRecorder;

  constructor(
    private readonly db: Db,
    private readonly ring: KeyRing,
    private readonly verifyKey: KeyObject,
    private readonly log: Logger,
    onCommit?: (releases: number) => void,
  ) {
    this.recorder = new ReleaseRecorder(db, onCommit);
  }

  /** Every granted secret that still exists, by name (sandbox, script grants): a batch of one. */
  async openSecrets(caller: string, req: OpenSecretsRequest): Promise<Map<string, string>> {
    const outcome = (await this.openSecretsBatch(caller, [req]))[0]!;
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  /**
   * Script releases, each verified, decrypted, recorded and answered on its
   * own, with one read per user for all of that user's grants (each then
   * gets exactly its own rows) and their records sharing commits
   * (ReleaseRecorder); one outcome per request, in order.
   */
  async openSecretsBatch(caller: string, reqs: OpenSecretsRequest[]): Promise<Settled<Map<string, string>>[]> {
    if (reqs.length === 0 || reqs.length > MAX_BATCH_RELEASES) {
      throw new DomainError("invalid", `a batch holds 1 to ${MAX_BATCH_RELEASES} releases`);
    }
    const verified = await Promise.all(
      reqs.map((req) => settle(this.verified("openSecrets", "script", caller, req.grant?.token ?? "", req.userId))),
    );
    const scopes = new Map<string, "all" | Set<string>>();
    for (const v of verified) {
      if (!v.ok) continue;
      const { userId, all, secretIds } = v.value;
      const scope = scopes.get(userId);
      if (scope === "all") continue;
      if (all) scopes.set(userId, "all");
      else if (scope) for (const id of secretIds) scope.add(id);
      else scopes.set(userId, new Set(secretIds));
    }
    const reads = new Map(
      [...scopes].map(([userId, scope]) => [userId, store.sealedForUser(this.db, userId, scope === "all" ? "all" : [...scope])] as const),
    );
    return Promise.all(
      verified.map((v) => {
        if (!v.ok) return v;
        const claims = v.value;
        const granted = claims.all ? undefined : new Set(claims.secretIds);
        return settle(
          reads.get(claims.userId)!.then((rows) => this.releaseScript(caller, claims, granted ? rows.filter((r) => granted.has(r.id)) : rows)),
        );
      }),
    );
  }

  /** Decrypts the rows a verified script grant names and records the release; the values, by name. */
  private async releaseScript(caller: string, claims: GrantClaims, rows: SecretRow[]): Promise<Map<string, string>> {
    const values = await this.decrypt("openSecrets", caller, claims, rows);
    await this.claimAndRecord("openSecrets", caller, claims, rows, values);
    return values;
  }

  /** Expands `${secrets.NAME}` in each template (gateway, template grants). */
  async renderTemplates(caller: string, req: RenderTemplatesRequest): Promise<string[]> {
    const rpc = "renderTemplates";
    try {
      checkTemplates(req.templates);
    } catch (err) {
      if (err instanceof DomainError) await appendAudit(this.db, { caller, rpc, outcome: "refused", reason: err.message });
      throw err;
    }
    const claims = await this.verified(rpc, "template", caller, req.grant?.token ?? "", req.userId);
    // Decrypt only the granted secrets the templates actually name.
    const names = [...referencedNames(req.templates)];
    const rows =
      names.length === 0
        ? []
        : await store.sealedForUser(this.db, claims.userId, claims.all ? "all" : claims.secretIds, names);
    const lookup = await this.decrypt(rpc, caller, claims, rows);
    if (renderedBytes(req.templates, lookup) > MAX_RENDERED_BYTES) {
      lookup.clear();
      await this.audit(rpc, caller, claims, rows, "rendered output too large");
      throw new DomainError("invalid", `rendered templates would exceed ${MAX_RENDERED_BYTES} bytes`);
    }
    await this.claimAndRecord(rpc, caller, claims, rows, lookup);
    return req.templates.map((t) => expandTemplate(t, lookup));
  }

  /** Verifies the grant; audits and answers PERMISSION_DENIED when it is refused. */
  private async verified(rpc: ReleaseRpc, purpose: Purpose, caller: string, token: string, userId: string) {
    try {
      return await verifyGrant(this.verifyKey, token, { purpose, caller, userId });
    } catch (err) {
      if (!(err instanceof GrantRefused)) throw err;
      throw await this.refuse(rpc, caller, err);
    }
  }

  private async refuse(rpc: ReleaseRpc, caller: string, err: GrantRefused): Promise<DomainError> {
    this.log.warn({ rpc, caller, reason: err.reason, executionId: err.claims?.executionId }, "grant refused");
    await appendAudit(this.db, {
      caller,
      rpc,
      outcome: "refused",
      reason: err.reason,
      ...described(err.claims),
      secretIds: err.claims?.secretIds,
    });
    return new DomainError("forbidden", err.message);
  }

  /**
   * Spends the execution id and records the release in one statement (one
   * commit, shared with the releases beside it: ReleaseRecorder), after
   * decryption succeeded and before any value leaves. Last, so
   * a grant refused for any other reason is not spent; a reused one releases
   * nothing.
   */
  private async claimAndRecord(rpc: ReleaseRpc, caller: string, claims: GrantClaims, rows: SecretRow[], values: Map<string, string>) {
    const recorded = await this.recorder.record({
      ...this.event(rpc, caller, claims, rows),
      executionId: claims.executionId,
      expiresAt: claims.expiresAt,
    });
    if (!recorded) {
      values.clear();
      throw await this.refuse(rpc, caller, new GrantRefused("reused", claims));
    }
  }

  /** Decrypts the rows; a row that fails authentication is audited and answered DATA_LOSS. */
  private async decrypt(rpc: ReleaseRpc, caller: string, claims: GrantClaims, rows: SecretRow[]) {
    const values = new Map<string, string>();
    for (const row of rows) {
      let plaintext: Buffer;
      try {
        plaintext = open(this.ring, { userId: row.userId, secretId: row.id, version: row.version }, row);
      } catch (err) {
        if (!(err instanceof OpenError)) throw err;
        values.clear();
        this.log.error({ rpc, secretId: row.id, executionId: claims.executionId }, "a granted secret failed authentication");
        await this.audit(rpc, caller, claims, [row], "stored value failed authentication");
        throw new DomainError("data_loss", "a granted secret failed authentication");
      }
      values.set(row.name, plaintext.toString("utf8"));
      plaintext.fill(0);
    }
    return values;
  }

  /** Records exactly the decrypted rows, before any value leaves; with a reason, as refused. */
  private async audit(rpc: ReleaseRpc, caller: string, claims: GrantClaims, rows: SecretRow[], refusal: string) {
    await appendAudit(this.db, { ...this.event(rpc, caller, claims, rows), outcome: "refused", reason: refusal });
  }

  private event(rpc: ReleaseRpc, caller: string, claims: GrantClaims, rows: SecretRow[]): AuditEvent {
    return {
      caller,
      rpc,
      outcome: "released",
      ...described(claims),
      secretIds: rows.map((r) => r.id),
      masterKeyIds: [...new Set(rows.map((r) => r.masterKeyId))],
    };
  }
}
