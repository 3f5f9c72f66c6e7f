// Child process entry: the echo baseline gets its own process and event loop,
// exactly like the broker, so the comparison does not favour either side.
// Usage: echo-server.ts <port> <pki dir>
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { listen } from "../../common/grpc-server.js";
import { echoHandlers, echoService } from "./echo.js";

const [port, pkiDir] = process.argv.slice(2);
if (!port || !pkiDir) throw new Error("usage: echo-server.ts <port> <pki dir>");

const server = new grpc.Server();
server.addService(echoService, echoHandlers);
// The same listener as the broker's, so the baseline pays the same transport.
const listening = await listen(server, {
  host: "127.0.0.1",
  port: Number(port),
  tls: {
    ca: path.join(pkiDir, "ca.crt"),
    cert: path.join(pkiDir, "broker.crt"),
    key: path.join(pkiDir, "broker.key"),
  },
});
process.on("SIGTERM", () => void listening.stop().then(() => process.exit(0)));
