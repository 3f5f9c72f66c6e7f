// A broker that stops with a script's release in flight, at the one moment a
// real kill lands too rarely to test by killing
// (test/replicas/many-instances.test.ts kills real brokers): after it has
// committed the release, before its answer reaches the sandbox. The grant is
// then spent, and nothing of the run has started. The sandbox answers the
// run as lost and the gateway sends it again under a new grant
// (gateway/sandbox/lost-release.ts).
//
// Every service is the real one in its own process. Between the sandbox and
// the broker sits a TCP relay. The test has it hold back everything the
// broker sends, waits until the release is on the audit trail (committed),
// then has it drop what it held and reset both connections, as a broker's
// death leaves them.
import net from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { API_TRACKERS, startUpstream } from "../helpers/trackers.js";
import { until } from "../helpers/wait.js";
import { createResponder, hitUrl } from "../helpers/webhooks.js";

interface AuditEvent {
  outcome: string;
  reason?: string;
  consumer?: string;
  executionId?: string;
}

/** Relays TCP to `target`; `hold()` keeps back what the target sends, `cut()` drops it and resets both sides. */
class Relay {
  port = 0;
  private holding = false;
  private readonly server: net.Server;
  private readonly pairs = new Set<[client: net.Socket, upstream: net.Socket]>();

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => this.relay(client));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  hold(): void {
    this.holding = true;
  }

  /** Drops what was held and resets every connection; later ones are relayed as before. */
  cut(): number {
    this.holding = false;
    const cut = this.pairs.size;
    for (const [client, upstream] of this.pairs) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    return cut;
  }

  private relay(client: net.Socket): void {
    const upstream = net.connect(this.target.port, this.target.host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.pairs.add(pair);
    for (const s of pair) {
      s.on("error", () => {});
      s.once("close", () => {
        this.pairs.delete(pair);
        for (const other of pair) other.destroy();
      });
    }
    client.on("data", (b: Buffer) => upstream.write(b));
    // Held bytes are never sent: cut() resets the connection they were for.
    upstream.on("data", (b: Buffer) => void (this.holding || client.write(b)));
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * `request` with the broker's answers held back until the release for
 * `consumer` is on the audit trail (committed), then cut; its answer.
 */
async function cutOnceReleased<T>(consumer: string, request: () => Promise<T>): Promise<T> {
  const before = (await releasesOf(consumer)).length;
  relay.hold();
  const answer = request();
  const seen = await until(() => releasesOf(consumer), (events) => events.length > before);
  expect(seen.length).toBeGreaterThan(before);
  expect(relay.cut()).toBeGreaterThan(0);
  return answer;
}

let stack: Stack;
let relay: Relay;
let user: TestUser;
let upstream: Awaited<ReturnType<typeof startUpstream>>;

beforeAll(async () => {
  upstream = await startUpstream(() => ({ body: "{}" }));
  stack = await Stack.start();
  const [host, port] = stack.brokerAddr.split(":");
  relay = new Relay({ host: host!, port: Number(port) });
  await relay.listen();
  // The sandbox again, now reaching the broker through the relay.
  await stack.stopSandbox();
  await stack.startSandbox({ BROKER_URL: `127.0.0.1:${relay.port}`, OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${upstream.port}` });
  user = await newUser(stack);
  await createSecret(stack, user, "TOKEN", "tok-lost-release");
});
afterAll(async () => {
  upstream?.close();
  await stack?.stop();
  await relay?.close();
});

it("a scripted responder whose release was lost with its broker answers under a new grant", async () => {
  const responder = await createResponder(stack, user, {
    location: { pathType: "=", path: "/lost" },
    settings: { script: "({ body: context.secrets.TOKEN })", secrets: "all" },
  });
  const consumer = `responder:${responder.id}`;
  // Through the relay before it cuts: the sandbox's connection to the broker is up.
  expect((await hitUrl(stack, responder.url)).text).toBe("tok-lost-release");
  // A secret written: with the sandbox's cache on, the next run is a release too.
  await createSecret(stack, user, "OTHER", "other-value");
  const before = (await releasesOf(consumer)).length;

  const answer = await cutOnceReleased(consumer, () => hitUrl(stack, responder.url));

  expect({ status: answer.status, body: answer.text }).toEqual({ status: 200, body: "tok-lost-release" });
  // Two releases for the one request, each under its own grant: the lost one and the one that answered.
  const releases = (await releasesOf(consumer)).slice(0, -before);
  expect(releases.map((e) => e.outcome)).toEqual(["released", "released"]);
  expect(new Set(releases.map((e) => e.executionId)).size).toBe(2);
});

it("an API tracker's run whose release was lost is sent again under a new grant", async () => {
  await createSecret(stack, user, "TRACKER", "tracker-value");
  const consumer = "api_tracker:_debug";

  const res = await cutOnceReleased(consumer, () =>
    call(stack, "POST", `${API_TRACKERS}/_debug`, {
      auth: user.auth,
      json: {
        target: { url: `http://127.0.0.1:${upstream.port}/x`, extractor: "({ body: { saw: context.params.secrets.TRACKER === 'tracker-value' } })" },
        secrets: "all",
      },
    }),
  );

  expect(res.status, res.text).toBe(200);
  expect(res.body.result).toEqual({ saw: true });
  const releases = await releasesOf(consumer);
  expect(releases.map((e) => e.outcome)).toEqual(["released", "released"]);
  expect(new Set(releases.map((e) => e.executionId)).size).toBe(2);
});

/** The audit trail's events for one consumer, newest first. */
async function releasesOf(consumer: string): Promise<AuditEvent[]> {
  const res = await call<{ events: AuditEvent[] }>(stack, "GET", "/api/user/secrets/_audit", { auth: user.auth });
  expect(res.status).toBe(200);
  return res.body.events.filter((e) => e.consumer === consumer);
}
