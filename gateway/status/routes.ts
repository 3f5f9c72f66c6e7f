import { Type } from "@sinclair/typebox";
import type { Db } from "../../common/db.js";
import type { InstanceState } from "../../common/grpc-client.js";
import type { BrokerState } from "../broker/client.js";
import type { SandboxState } from "../sandbox/client.js";
import type { App } from "../http/app-type.js";

const Component = Type.Union([Type.Literal("ok"), Type.Literal("unavailable")]);
const Components = Type.Object(
  { database: Component, broker: Component, sandbox: Component },
  { description: "Each component's state: the gateway's database, the secret broker, the script sandbox" },
);
const InstanceStates = Type.Array(Type.Object({ state: Component }), {
  description: "One entry per instance the URL names (in address order; addresses are not shown to the public)",
});
const Instances = Type.Object(
  { broker: InstanceStates, sandbox: InstanceStates },
  { description: "Each instance of the secret broker and of the script sandbox; a component is ok while one instance serves" },
);
const Reasons = Type.Object(
  { broker: Type.Optional(Type.String()) },
  { description: "Why a component that is up does not serve, when it says so (e.g. the broker's master keys are missing or wrong)" },
);

/** 200 only when every component answers; otherwise 503. Both name each component's state. */
export async function statusRoutes(app: App, opts: { db: Db; brokerState: () => Promise<BrokerState>; sandboxState: () => Promise<SandboxState> }) {
  app.get(
    "/api/status",
    {
      schema: {
        operationId: "getStatus",
        summary: "Whether the gateway and what it depends on serve",
        tags: ["status"],
        // Open to anyone, so load balancers and probes need no credentials.
        security: [],
        response: {
          200: Type.Object({ status: Type.Literal("ok"), components: Components, instances: Instances }),
          // The HTTP server refuses a request it cannot read (e.g. headers too large) before any route.
          "4XX": Type.Null({ description: "The request could not be read" }),
          503: Type.Object({ status: Type.Literal("unavailable"), components: Components, instances: Instances, reasons: Type.Optional(Reasons) }),
        },
      },
    },
    async (_req, reply) => {
      const [database, broker, sandbox] = await Promise.all([
        opts.db.query("SELECT 1").then(() => true, () => false),
        opts.brokerState(),
        opts.sandboxState(),
      ]);
      const state = (up: boolean) => (up ? ("ok" as const) : ("unavailable" as const));
      const each = (list: InstanceState[]) =>
        [...list].sort((a, b) => a.address.localeCompare(b.address)).map((i) => ({ state: state(i.serving) }));
      const components = { database: state(database), broker: state(broker.up), sandbox: state(sandbox.up) };
      const instances = { broker: each(broker.instances), sandbox: each(sandbox.instances) };
      if (database && broker.up && sandbox.up) return reply.send({ status: "ok" as const, components, instances });
      const reasons = broker.reason === undefined ? {} : { reasons: { broker: broker.reason } };
      return reply.status(503).send({ status: "unavailable" as const, components, instances, ...reasons });
    },
  );
}
