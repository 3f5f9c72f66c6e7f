import * as grpc from "@grpc/grpc-js";
import { DomainError } from "../../common/errors.js";
import { unary } from "../../common/grpc-client.js";
import type { ExecuteResponse, ScriptKind, ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import type { StoredAccess } from "../grants/access.js";
import { grantAccessOf } from "../grants/access.js";
import type { GrantMinter } from "../grants/mint.js";

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

// The sandbox's own wall clock ends an execution first; this only bounds a hung call.
const DEADLINE_SLACK_MS = 10_000;

/** Runs scripts in the sandbox with a grant for exactly the access setting. */
export class Scripts {
  constructor(
    private readonly client: ScriptRunnerClient,
    private readonly grants: GrantMinter,
  ) {}

  async execute(run: ScriptRun): Promise<ExecuteResponse> {
    const access = grantAccessOf(run.access);
    const { timeoutMs } = run;
    const grant = access
      ? await this.grants.mint({ userId: run.userId, purpose: "script", access, consumer: run.consumer })
      : undefined;
    try {
      return await unary(
        this.client.execute,
        this.client as unknown as grpc.Client,
        {
          userId: run.userId,
          kind: run.kind,
          script: run.script,
          contextJson: JSON.stringify(run.context),
          body: run.body,
          grant: grant && { token: grant.token },
          limits: { timeoutMs, memoryMb: 0, maxResultBytes: 0, maxLogBytes: 0 },
        },
        timeoutMs + DEADLINE_SLACK_MS,
      );
    } catch (err) {
      throw refusal(err as grpc.ServiceError);
    }
  }
}

function refusal(err: grpc.ServiceError): Error {
  switch (err.code) {
    case grpc.status.RESOURCE_EXHAUSTED:
      return new SandboxRefused("busy", "too many script executions are waiting");
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return new SandboxRefused("unavailable", "the script sandbox is unavailable");
    case grpc.status.PERMISSION_DENIED:
      return new SandboxRefused("unavailable", "the secrets for this script could not be released");
    default:
      return new Error(`sandbox call failed: ${grpc.status[err.code] ?? err.code}`);
  }
}
