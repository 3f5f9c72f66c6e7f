import { Type } from "@sinclair/typebox";
import type { Db } from "../../common/db.js";
import type { App } from "../http/app-type.js";

const Component = Type.Union([Type.Literal("ok"), Type.Literal("unavailable")]);

/** 200 only when every component answers; otherwise 503 naming the ones that do not. */
export async function statusRoutes(app: App, opts: { db: Db; brokerHealthy: () => Promise<boolean>; sandboxHealthy: () => Promise<boolean> }) {
  app.get(
    "/api/status",
    {
      schema: {
        tags: ["status"],
        response: {
          200: Type.Object({ status: Type.Literal("ok") }),
          503: Type.Object({
            status: Type.Literal("unavailable"),
            components: Type.Object({ database: Component, broker: Component, sandbox: Component }),
          }),
        },
      },
    },
    async (_req, reply) => {
      const [database, broker, sandbox] = await Promise.all([
        opts.db.query("SELECT 1").then(() => true, () => false),
        opts.brokerHealthy(),
        opts.sandboxHealthy(),
      ]);
      if (database && broker && sandbox) return reply.send({ status: "ok" as const });
      const state = (up: boolean) => (up ? ("ok" as const) : ("unavailable" as const));
      return reply.status(503).send({
        status: "unavailable" as const,
        components: { database: state(database), broker: state(broker), sandbox: state(sandbox) },
      });
    },
  );
}
