import { DomainError } from "../../common/errors.js";
import type { ExecuteResponse, ScriptKind, ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import type { StoredAccess } from "../grants/access.js";
import { grantAccessOf } from "../grants/access.js";
import type { GrantMinter } from "../grants/mint.js";
import { sandboxCalls, sandboxFailureOf } from "./calls.js";
import { underScriptGrant } from "./lost-release.js";

export interface ScriptRun {
  userId: string;
  kind: ScriptKind;
  script: string;
  /** The context without secrets: the sandbox adds the granted ones. */
  context: object;
  /** Responders: the request body, which the script sees as `context.body`. */
  body?: Buffer;
  access: StoredAccess;
  /** What runs the script, for the audit log, e.g. "responder:<id>". */
  consumer: string;
  /** Wall clock of the execution; the sandbox refuses more than its own maximum. */
  timeoutMs: number;
}

/** The sandbox refused or could not run the execution (not a script failure). */
export class SandboxRefused extends DomainError {
  constructor(
    readonly reason: "busy" | "unavailable",
    message: string,
  ) {
    super(reason === "busy" ? "limit" : "unavailable", message);
  }
}

/** Runs scripts in the sandbox with a grant for exactly the access setting. */
export class Scripts {
  constructor(
    private readonly client: ScriptRunnerClient,
    private readonly grants: GrantMinter,
  ) {}

  async execute(run: ScriptRun): Promise<ExecuteResponse> {
    const access = grantAccessOf(run.access);
    const { timeoutMs } = run;
    const mint = async () =>
      access && (await this.grants.mint({ userId: run.userId, purpose: "script", access, consumer: run.consumer })).token;
    const contextJson = JSON.stringify(run.context);
    try {
      return await underScriptGrant(mint, (grant) =>
        sandboxCalls.execute(
          this.client,
          {
            userId: run.userId,
            kind: run.kind,
            script: run.script,
            contextJson,
            body: run.body,
            grant: grant === undefined ? undefined : { token: grant },
            limits: { timeoutMs, memoryMb: 0, maxResultBytes: 0, maxLogBytes: 0 },
          },
          timeoutMs,
        ),
      );
    } catch (err) {
      const failure = sandboxFailureOf(err, "script");
      if (failure.kind === "busy" || failure.kind === "unavailable") throw new SandboxRefused(failure.kind, failure.message);
      throw new Error(failure.message);
    }
  }
}
