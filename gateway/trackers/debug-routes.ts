import type { TSchema } from "@sinclair/typebox";
import { Type } from "@sinclair/typebox";
import { requireAuth, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { GrantCheck, GrantGuard } from "../grants/grant-guard.js";
import type { App } from "../http/app-type.js";
import { errors } from "../http/schemas.js";
import type { TrackerKind } from "./kinds.js";
import { bodyLimit, security, tags, type SchemaOf } from "./routes.js";

/** `POST <base>/_debug` of one kind: its pipeline once, nothing stored. */
export async function trackerDebugRoute<B>(
  app: App,
  opts: {
    auth: AuthDeps;
    grants: GrantGuard;
    kind: TrackerKind;
    body: SchemaOf<B>;
    result: TSchema & { $id?: string };
    debug: (userId: string, body: B, check: GrantCheck | undefined) => Promise<unknown>;
  },
) {
  const { kind } = opts;
  app.post(
    `${kind.base}/_debug`,
    {
      onRequest: requireAuth(opts.auth, "user", "trackers"),
      bodyLimit,
      schema: {
        operationId: `debug${kind.operation}`,
        summary: `Run ${kind.aLabel} once without saving anything; each stage's result and timing back`,
        description:
          "Takes the target and secrets of a create request (other fields are ignored). Granting secrets needs what creating the tracker would; " +
          `a run with secrets gets a single-use grant of its own, audited as ${kind.consumer}:_debug. A failed stage is an answer with \`error\`, not an HTTP error.`,
        tags,
        security,
        body: opts.body,
        response: { 200: Type.Ref(opts.result.$id!), ...errors(400, 401, 403, 429, 503) },
      },
    },
    (req) => opts.debug(userIdOf(req), req.body as B, opts.grants.checkFor(req.principal)),
  );
}
