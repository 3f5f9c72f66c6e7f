import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { DomainError } from "../../common/errors.js";
import { Places } from "../../gateway/http/places.js";

// Counted places for costly work (gateway/http/places.ts): long reads and
// import documents take one each, refused as busy past either bound.

const busy = (message: string) => (e: unknown) => e instanceof DomainError && e.kind === "busy" && e.message === message;
const refusals = { account: "account full", all: "gateway full" };

describe("places", () => {
  it("refuses past an account's bound, then past the gateway's, and each release gives back one place once", () => {
    const places = new Places({ perAccount: 2, total: 3 }, refusals);
    const a1 = places.take("a");
    places.take("a");
    expect(() => places.take("a")).toThrow(expect.toSatisfy(busy("account full")));
    places.take("b");
    expect(() => places.take("c")).toThrow(expect.toSatisfy(busy("gateway full")));
    expect(places.size).toBe(3);

    a1();
    a1();
    expect(places.size).toBe(2);
    // The place freed is the account's and the gateway's: one more for "a" fits, a second does not.
    places.take("a");
    expect(() => places.take("c")).toThrow(expect.toSatisfy(busy("gateway full")));
  });

  it("holds a place until the response ends, and gives it back at once for a client already gone", async () => {
    const places = new Places({ perAccount: 1, total: 4 }, refusals);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const app = Fastify();
    app.get("/held", async (_req, reply) => {
      places.holdUntilAnswered(reply, "a");
      await gate;
      return "done";
    });
    app.get("/gone", async (_req, reply) => {
      reply.raw.destroy();
      await new Promise((resolve) => reply.raw.once("close", resolve));
      places.holdUntilAnswered(reply, "b");
      return "never read";
    });
    try {
      const served = app.inject({ method: "GET", url: "/held" });
      await new Promise((resolve) => setImmediate(resolve));
      expect(places.size).toBe(1);
      release();
      expect((await served).body).toBe("done");
      expect(places.size).toBe(0);

      await app.listen({ port: 0, host: "127.0.0.1" });
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/gone`;
      await expect(fetch(url)).rejects.toThrow();
      await new Promise((resolve) => setImmediate(resolve));
      expect(places.size).toBe(0);
    } finally {
      await app.close();
    }
  });
});
