import fs from "node:fs";
import net from "node:net";

// Stacks start their three services at once, so the gateway must be told the
// broker's and the sandbox's ports before they listen. Ports handed out by
// the kernel (listeners on port 0, outgoing connections) all come from its
// ephemeral range, so a port chosen below that range cannot be taken by
// anything else between our check and the service's bind; each vitest
// worker draws from a slice of its own, so two test files never pick the
// same one either.
const SLICE = 1_000;
const FIRST = 12_000;

function ephemeralFloor(): number {
  try {
    const low = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > FIRST + SLICE ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const slices = Math.floor((ephemeralFloor() - FIRST) / SLICE);
const worker = Number(process.env.VITEST_POOL_ID ?? "1");
const base = FIRST + (((Number.isInteger(worker) && worker > 0 ? worker : 1) - 1) % slices) * SLICE;
// Where the last file in this worker stopped is unknown (each file is a new
// process); starting at a random place keeps a port that a just-stopped
// service of the previous file still holds out of the way, and the check
// below skips any that is still taken.
let next = Math.floor(Math.random() * SLICE);

function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A loopback port nothing listens on, below the kernel's ephemeral range, from this worker's slice. */
export async function reservePort(): Promise<number> {
  for (let tries = 0; tries < SLICE; tries++) {
    const port = base + (next++ % SLICE);
    if (await free(port)) return port;
  }
  throw new Error(`no free port in ${base}..${base + SLICE - 1}`);
}
