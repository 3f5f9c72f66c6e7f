import { expect, it } from "vitest";
import { layOut } from "../../common/cli/instances.js";

// How `npm start` lays out BROKER_INSTANCES and SANDBOX_INSTANCES: pure, so
// every case is checked here; test/e2e/npm-start.test.ts starts one for real.

const ports = (env: NodeJS.ProcessEnv) => {
  const runs = layOut(env);
  if (typeof runs === "string") throw new Error(runs);
  return runs.map((r) => [r.name, r.env.BROKER_PORT ?? r.env.SANDBOX_PORT ?? "-"]);
};

it("starts one of each on the usual ports by default", () => {
  expect(ports({})).toEqual([
    ["broker", "7071"],
    ["sandbox", "7072"],
    ["gateway", "-"],
  ]);
  const gateway = (layOut({}) as Exclude<ReturnType<typeof layOut>, string>).at(-1)!;
  expect(gateway.env).toEqual({ BROKER_URL: "127.0.0.1:7071", SANDBOX_URL: "127.0.0.1:7072" });
});

it("puts sandboxes on consecutive ports and gives every client the whole list", () => {
  const runs = layOut({ SANDBOX_INSTANCES: "3" }) as Exclude<ReturnType<typeof layOut>, string>;
  expect(runs.map((r) => r.name)).toEqual(["broker", "sandbox-1", "sandbox-2", "sandbox-3", "gateway"]);
  expect(runs.at(-1)!.env.SANDBOX_URL).toBe("127.0.0.1:7072,127.0.0.1:7073,127.0.0.1:7074");
});

it("moves the sandboxes past the brokers when SANDBOX_PORT is not set, and refuses a clash when it is", () => {
  const env = { BROKER_INSTANCES: "2", BROKER_DATABASE_URL: "postgres://db/broker", SANDBOX_INSTANCES: "2" };
  expect(ports(env)).toEqual([
    ["broker-1", "7071"],
    ["broker-2", "7072"],
    ["sandbox-1", "7073"],
    ["sandbox-2", "7074"],
    ["gateway", "-"],
  ]);
  const runs = layOut(env) as Exclude<ReturnType<typeof layOut>, string>;
  expect(runs.find((r) => r.name === "sandbox-2")!.env.BROKER_URL).toBe("127.0.0.1:7071,127.0.0.1:7072");
  expect(layOut({ ...env, SANDBOX_PORT: "7072" })).toBe("a broker and a sandbox would both listen on port 7072: set SANDBOX_PORT past the brokers' ports");
});

it("refuses several brokers on the embedded database", () => {
  expect(layOut({ BROKER_INSTANCES: "2" })).toMatch(/^BROKER_INSTANCES > 1 needs BROKER_DATABASE_URL/);
});

it("gives each instance its own metrics port when one is set", () => {
  const runs = layOut({ SANDBOX_INSTANCES: "2", SANDBOX_METRICS_PORT: "9100" }) as Exclude<ReturnType<typeof layOut>, string>;
  expect(runs.filter((r) => r.name.startsWith("sandbox")).map((r) => r.env.SANDBOX_METRICS_PORT)).toEqual(["9100", "9101"]);
});
