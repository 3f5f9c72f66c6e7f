// Child process entry: the HTTP baseline for the responders part. Its own
// Node process with Fastify and the gateway's pino logger at warn, as the
// gateway runs in the bench, so only the responder work differs. It is loaded
// through tsx (the gateway runs compiled); once it serves, that costs nothing:
// it formats no stack traces, the one place tsx's source maps are read.
// Usage: hello-server.ts <port>
import Fastify, { type FastifyBaseLogger } from "fastify";
import { createLogger } from "../../common/log.js";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error("usage: hello-server.ts <port>");

const app = Fastify({ loggerInstance: createLogger("hello", "warn") as FastifyBaseLogger });
app.get("/", (_req, reply) => reply.status(200).type("text/plain; charset=utf-8").send("ok"));
await app.listen({ host: "127.0.0.1", port });
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
