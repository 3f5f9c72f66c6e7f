// Child process entry: the echo baseline gets its own process and event loop,
// exactly like the broker, so the comparison does not favour either side.
// Usage: echo-server.ts <port> <pki dir>
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { serverCredentials } from "../../common/tls.js";
import { echoHandlers, echoService } from "./echo.js";

const [port, pkiDir] = process.argv.slice(2);
if (!port || !pkiDir) throw new Error("usage: echo-server.ts <port> <pki dir>");

const server = new grpc.Server();
server.addService(echoService, echoHandlers);
const creds = serverCredentials({
  ca: path.join(pkiDir, "ca.crt"),
  cert: path.join(pkiDir, "broker.crt"),
  key: path.join(pkiDir, "broker.key"),
});
server.bindAsync(`127.0.0.1:${port}`, creds, (err) => {
  if (err) throw err;
});
process.on("SIGTERM", () => server.forceShutdown());
