import { Type } from "@sinclair/typebox";
import type { Db } from "../../common/db.js";
import type { App } from "../http/app-type.js";

const Component = Type.Union([Type.Literal("ok"), Type.Literal("unavailable")]);
const Components = Type.Object(
  { database: Component, broker: Component, sandbox: Component },
  { description: "Each component's state: the gateway's database, the secret broker, the script sandbox" },
);

/** 200 only when every component answers; otherwise 503. Both name each component's state. */
export async function statusRoutes(app: App, opts: { db: Db; brokerHealthy: () => Promise<boolean>; sandboxHealthy: () => Promise<boolean> }) {
  app.get(
    "/api/status",
    {
      schema: {
        tags: ["status"],
        response: {
          200: Type.Object({ status: Type.Literal("ok"), components: Components }),
          503: Type.Object({ status: Type.Literal("unavailable"), components: Components }),
        },
      },
    },
    async (_req, reply) => {
      const [database, broker, sandbox] = await Promise.all([
        opts.db.query("SELECT 1").then(() => true, () => false),
        opts.brokerHealthy(),
        opts.sandboxHealthy(),
      ]);
      const state = (up: boolean) => (up ? ("ok" as const) : ("unavailable" as const));
      const components = { database: state(database), broker: state(broker), sandbox: state(sandbox) };
      if (database && broker && sandbox) return reply.send({ status: "ok" as const, components });
      return reply.status(503).send({ status: "unavailable" as const, components });
    },
  );
}
