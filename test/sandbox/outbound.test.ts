// op_proxy_request's host side against real HTTP servers on 127.0.0.1.
import type { LookupAddress } from "node:dns";
import dc from "node:diagnostics_channel";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  addressRefusal,
  createOutboundPolicy,
  parseAllowHosts,
  type OutboundPolicyConfig,
} from "../../sandbox/outbound/policy.js";
import { performOutbound, type LookupFunction } from "../../sandbox/outbound/request.js";
import { OutboundError, type OutboundErrorKind, type OutboundRequest } from "../../sandbox/outbound/types.js";

interface LocalServer {
  port: number;
  /** Every request that arrived, with its body. */
  hits: { req: http.IncomingMessage; body: Buffer }[];
}

const servers: http.Server[] = [];

/** A server on 127.0.0.1 that reads each request's body, then calls `handler`. */
async function startServer(handler: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void) {
  const server: LocalServer = { port: 0, hits: [] };
  const http_ = http.createServer(async (req, res) => {
    res.on("error", () => {});
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    server.hits.push({ req, body });
    handler(req, res, body);
  });
  servers.push(http_);
  await new Promise<void>((resolve) => http_.listen(0, "127.0.0.1", resolve));
  server.port = (http_.address() as AddressInfo).port;
  return server;
}

const ok = () => startServer((_req, res) => res.end("ok"));

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

// Every client socket this process opens, and the addresses it tried.
const attempts: string[] = [];
let sockets = 0;
const onSocket = (message: unknown) => {
  sockets += 1;
  (message as { socket: Socket }).socket.on("connectionAttempt", (ip: string) => attempts.push(ip));
};
beforeAll(() => dc.subscribe("net.client.socket", onSocket));
afterAll(() => dc.unsubscribe("net.client.socket", onSocket));

function request(url: string, extra: Partial<OutboundRequest> = {}): OutboundRequest {
  return { url, method: "GET", headers: [], timeoutMs: 5_000, ...extra };
}

function policy(config: OutboundPolicyConfig = {}) {
  return createOutboundPolicy(config);
}

/** A lookup that answers from a list, one answer per call (the last one repeats), counting calls. */
function scriptedLookup(...answers: string[][]): LookupFunction & { calls: string[] } {
  const calls: string[] = [];
  const lookup = async (hostname: string): Promise<LookupAddress[]> => {
    const answer = answers[Math.min(calls.length, answers.length - 1)]!;
    calls.push(hostname);
    return answer.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return Object.assign(lookup, { calls });
}

async function expectFailure(promise: Promise<unknown>, kind: OutboundErrorKind): Promise<OutboundError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected an OutboundError of kind ${kind}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OutboundError);
  const outbound = error as OutboundError;
  expect({ kind: outbound.kind, message: outbound.message }).toMatchObject({ kind });
  // Shown to the script's owner: one line, no stack frame, no host path.
  expect(outbound.message).not.toMatch(/\n|\bat \S+ \(|\/work|node:|file:\/\//);
  return outbound;
}

describe("OUTBOUND_ALLOW_HOSTS", () => {
  it("parses names, IP literals and ports, case-insensitively", () => {
    expect(parseAllowHosts(" API.Example.com:8443, localhost. ,10.0.0.1,[::1]:8080,[FD00::1], ,internal_svc")).toEqual([
      { host: "api.example.com", port: 8443 },
      { host: "localhost" },
      { host: "10.0.0.1" },
      { host: "0:0:0:0:0:0:0:1", port: 8080 },
      { host: "fd00:0:0:0:0:0:0:1" },
      { host: "internal_svc" },
    ]);
    expect(parseAllowHosts("")).toEqual([]);
  });

  it.each([
    ["http://example.com", /scheme/],
    ["example.com/path", /no scheme, path/],
    ["user@example.com", /user/],
    ["*.example.com", /wildcard/],
    ["::1", /brackets/],
    ["[not-an-ip]", /IPv6/],
    ["[fe80::1%eth0]", /IPv6/],
    ["1.2.3.256", /IPv4/],
    ["1.2.3", /IPv4/],
    ["foo.0x7f", /number/],
    ["exa mple.com", /malformed/],
    ["-bad.example", /host name/],
    ["example.com:", /port/],
    ["example.com:0", /port/],
    ["example.com:70000", /port/],
    ["example.com:https", /port/],
  ])("rejects %j", (entry, reason) => {
    expect(() => parseAllowHosts(`ok.example, ${entry}`)).toThrow(/OUTBOUND_ALLOW_HOSTS entry .* is malformed/);
    expect(() => parseAllowHosts(entry)).toThrow(reason);
  });
});

describe("address classification", () => {
  it.each([
    ["127.0.0.1", "loopback address"],
    ["10.1.2.3", "private address"],
    ["172.16.0.1", "private address"],
    ["192.168.1.1", "private address"],
    ["169.254.1.1", "link-local address"],
    ["169.254.169.254", "cloud metadata address"],
    ["100.100.100.200", "cloud metadata address"],
    ["168.63.129.16", "cloud metadata address"],
    ["fd00:ec2::254", "cloud metadata address"],
    ["::ffff:169.254.169.254", "cloud metadata address"],
    ["100.64.0.1", "carrier-grade NAT address"],
    ["0.0.0.0", "unspecified address"],
    ["255.255.255.255", "broadcast address"],
    ["224.0.0.1", "multicast address"],
    ["192.0.2.1", "reserved address"],
    ["240.0.0.1", "reserved address"],
    ["::", "unspecified address"],
    ["::1", "loopback address"],
    ["fe80::1", "link-local address"],
    ["fc00::1", "private address (unique local)"],
    ["ff02::1", "multicast address"],
    ["::ffff:127.0.0.1", "loopback address"],
    ["::ffff:10.0.0.1", "private address"],
    ["64:ff9b::a00:1", "private address"],
    ["64:ff9b:1::a00:1", "NAT64 address"],
    ["2002:a00:1::1", "6to4 address"],
    ["2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo address"],
    ["::7f00:1", "IPv4-compatible IPv6 address"],
    ["2001:db8::1", "reserved address"],
    ["localhost", "not an IP address"],
  ])("refuses %s (%s)", (address, reason) => {
    expect(addressRefusal(address)).toBe(reason);
  });

  it.each(["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])(
    "allows public %s",
    (address) => {
      expect(addressRefusal(address)).toBeUndefined();
    },
  );
});

describe("performOutbound refuses", () => {
  it("a loopback literal with the port of a live server", async () => {
    const server = await ok();
    const error = await expectFailure(performOutbound(request(`http://127.0.0.1:${server.port}/`), policy()), "url_not_allowed");
    expect(error.message).toBe("request to 127.0.0.1 refused: loopback address");
    expect(server.hits).toHaveLength(0);
  });

  it.each([
    ["http://10.0.0.1/", "private address"],
    ["http://169.254.169.254/latest/meta-data", "cloud metadata address"],
    ["http://[::1]:9/", "loopback address"],
    ["http://[::ffff:127.0.0.1]/", "loopback address"],
    ["http://0.0.0.0/", "unspecified address"],
    ["http://0x7f.1/", "loopback address"],
    ["http://[fd00:ec2::254]/", "cloud metadata address"],
  ])("%s without looking up or connecting", async (url, reason) => {
    const lookup = scriptedLookup(["8.8.8.8"]);
    const before = sockets;
    const error = await expectFailure(performOutbound(request(url), policy(), lookup), "url_not_allowed");
    expect(error.message).toContain(reason);
    expect(lookup.calls).toEqual([]);
    expect(sockets).toBe(before);
  });

  it("a name resolving to 127.0.0.1 (localhost, the system resolver)", async () => {
    const server = await ok();
    const error = await expectFailure(performOutbound(request(`http://localhost:${server.port}/`), policy()), "url_not_allowed");
    expect(error.message).toBe("request to localhost refused: it resolves to a non-public address (loopback address)");
    expect(server.hits).toHaveLength(0);
  });

  it("a name resolving to a public and a private address, without connecting", async () => {
    const lookup = scriptedLookup(["93.184.215.14", "10.0.0.7"]);
    const before = sockets;
    const error = await expectFailure(performOutbound(request("http://mixed.example/"), policy(), lookup), "url_not_allowed");
    expect(error.message).toContain("private address");
    expect(error.message).not.toContain("10.0.0.7");
    expect(lookup.calls).toEqual(["mixed.example"]);
    expect(sockets).toBe(before);
  });

  it.each([
    ["ftp://example.com/file", /scheme ftp:/],
    ["file:///etc/passwd", /scheme file:/],
    ["javascript:alert(1)", /scheme javascript:/],
    ["http://user:pw@example.com/", /credentials/],
    ["http://user@example.com/", /credentials/],
    ["not a url", /invalid URL/],
  ])("%s", async (url, reason) => {
    const lookup = scriptedLookup(["8.8.8.8"]);
    const error = await expectFailure(performOutbound(request(url), policy(), lookup), "url_not_allowed");
    expect(error.message).toMatch(reason);
    expect(error.message).not.toContain("passwd");
    expect(lookup.calls).toEqual([]);
  });

  it.each([
    [{ method: "GET /x HTTP/1.1\r\nX: y" }, /method/],
    [{ method: "" }, /method/],
    [{ method: "connect" }, /CONNECT/],
    [{ headers: [["x-a", "b\r\nx-injected: 1"]] as [string, string][] }, /header/],
    [{ headers: [["bad name", "v"]] as [string, string][] }, /header/],
  ])("a bad method or header %j", async (extra, reason) => {
    const lookup = scriptedLookup(["8.8.8.8"]);
    await expect(performOutbound(request("http://example.com/", extra), policy(), lookup)).rejects.toThrow(reason);
    expect(lookup.calls).toEqual([]);
  });

  it("an allow-listed host on another port", async () => {
    const server = await ok();
    const allowHosts = `127.0.0.1:${server.port === 65535 ? 1 : server.port + 1},localhost:1`;
    for (const url of [`http://127.0.0.1:${server.port}/`, `http://localhost:${server.port}/`]) {
      await expectFailure(performOutbound(request(url), policy({ allowHosts })), "url_not_allowed");
    }
    expect(server.hits).toHaveLength(0);
  });

  it("a metadata address behind an allow-listed name", async () => {
    const lookup = scriptedLookup(["169.254.169.254"]);
    const error = await expectFailure(
      performOutbound(request("http://metadata.internal/"), policy({ allowHosts: "metadata.internal" }), lookup),
      "url_not_allowed",
    );
    expect(error.message).toContain("cloud metadata address");
  });
});

describe("performOutbound with the local server allow-listed", () => {
  it("carries method, headers and body, and returns status, headers and body", async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(201, [
        ["X-Reply", "one"],
        ["x-reply", "two"],
        ["Set-Cookie", "a=1"],
        ["Set-Cookie", "b=2"],
        ["Content-Type", "application/octet-stream"],
      ]);
      res.end(Buffer.from([0, 1, 2, 255]));
    });
    const body = Buffer.from('{"hello":"wörld"}');
    const res = await performOutbound(
      request(`http://127.0.0.1:${server.port}/path?q=1&r=%20#frag`, {
        method: "PATCH",
        body,
        headers: [
          ["X-Custom", "Value"],
          ["x-multi", "1"],
          ["X-Multi", "2"],
          ["Host", "evil.example"],
          ["Content-Length", "1"],
          ["Transfer-Encoding", "chunked"],
          ["Connection", "keep-alive, x-custom"],
          ["__proto__", "kept"],
        ],
      }),
      policy({ allowHosts: `127.0.0.1:${server.port}` }),
    );
    expect(res).toEqual({
      statusCode: 201,
      headers: expect.objectContaining({
        "x-reply": "one, two",
        "set-cookie": "a=1, b=2",
        "content-type": "application/octet-stream",
      }),
      body: Buffer.from([0, 1, 2, 255]),
    });
    expect(server.hits).toHaveLength(1);
    const { req, body: received } = server.hits[0]!;
    expect(req.method).toBe("PATCH");
    expect(req.url).toBe("/path?q=1&r=%20");
    expect(received.equals(body)).toBe(true);
    expect(req.headers).toMatchObject({
      host: `127.0.0.1:${server.port}`,
      "x-custom": "Value",
      "x-multi": "1, 2",
      "content-length": String(body.length),
    });
    expect(req.headers["transfer-encoding"]).toBeUndefined();
    expect(req.headersDistinct["__proto__"]).toEqual(["kept"]);
  });

  it("by name: an allow-listed localhost (any port) goes through the system resolver", async () => {
    const server = await ok();
    const res = await performOutbound(
      request(`http://LocalHost:${server.port}/x`),
      policy({ allowHosts: "example.com,localhost" }),
    );
    expect(res.statusCode).toBe(200);
    expect(res.body.toString()).toBe("ok");
    expect(server.hits[0]!.req.headers.host).toBe(`localhost:${server.port}`);
  });

  it("returns a 302 as is and never follows it", async () => {
    const target = await ok();
    const server = await startServer((_req, res) => {
      res.writeHead(302, { Location: `http://127.0.0.1:${target.port}/target` });
      res.end();
    });
    const res = await performOutbound(request(`http://127.0.0.1:${server.port}/`), policy({ allowHosts: "127.0.0.1" }));
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe(`http://127.0.0.1:${target.port}/target`);
    expect(res.body.length).toBe(0);
    expect(target.hits).toHaveLength(0);
  });

  it("times out on a server that never answers", async () => {
    const server = await startServer(() => {});
    const error = await expectFailure(
      performOutbound(request(`http://127.0.0.1:${server.port}/`, { timeoutMs: 200 }), policy({ allowHosts: "127.0.0.1" })),
      "timeout",
    );
    expect(error.message).toBe("request to 127.0.0.1 timed out after 200 ms");
    expect(server.hits).toHaveLength(1);
  });

  it("caps the asked timeout at maxTimeoutMs, and the deadline covers name resolution", async () => {
    const never: LookupFunction = () => new Promise(() => {});
    const error = await expectFailure(
      performOutbound(request("http://slow-dns.example/", { timeoutMs: 60_000 }), policy({ maxTimeoutMs: 150 }), never),
      "timeout",
    );
    expect(error.message).toBe("request to slow-dns.example timed out after 150 ms");
  });

  it("gives a request that names no timeout the whole ceiling, 30 s unless configured", async () => {
    expect(policy().defaultTimeoutMs).toBe(30_000);
    expect(policy({ maxTimeoutMs: 45_000 }).defaultTimeoutMs).toBe(45_000);
    const server = await startServer(() => {});
    const error = await expectFailure(
      performOutbound(request(`http://127.0.0.1:${server.port}/`, { timeoutMs: 0 }), policy({ allowHosts: "127.0.0.1", maxTimeoutMs: 150 })),
      "timeout",
    );
    expect(error.message).toBe("request to 127.0.0.1 timed out after 150 ms");
  });

  it("refuses a response larger than maxResponseBytes by Content-Length, before reading it", async () => {
    // Announces 1001 bytes and sends one: only the announced length can end this early.
    const server = await startServer((_req, res) => {
      res.writeHead(200, { "Content-Length": "1001" });
      res.write("x");
    });
    const error = await expectFailure(
      performOutbound(request(`http://127.0.0.1:${server.port}/`), policy({ allowHosts: "127.0.0.1", maxResponseBytes: 1000 })),
      "too_large",
    );
    expect(error.message).toBe("response from 127.0.0.1 exceeds 1000 bytes");
  });

  it("refuses a chunked response that grows past maxResponseBytes, and accepts one of exactly the limit", async () => {
    const server = await startServer((req, res) => {
      const chunks = req.url === "/big" ? 10 : 2;
      for (let i = 0; i < chunks; i++) res.write(Buffer.alloc(500, 97));
      res.end();
    });
    const allow = policy({ allowHosts: "127.0.0.1", maxResponseBytes: 1000 });
    await expectFailure(performOutbound(request(`http://127.0.0.1:${server.port}/big`), allow), "too_large");
    const res = await performOutbound(request(`http://127.0.0.1:${server.port}/exact`), allow);
    expect(res.headers["transfer-encoding"]).toBe("chunked");
    expect(res.body.length).toBe(1000);
  });

  it("reports a refused connection as upstream_failure with a short reason", async () => {
    const server = await ok();
    const port = server.port;
    await new Promise((resolve) => servers.pop()!.close(resolve));
    const error = await expectFailure(
      performOutbound(request(`http://127.0.0.1:${port}/`), policy({ allowHosts: `127.0.0.1:${port}` })),
      "upstream_failure",
    );
    expect(error.message).toBe("request to 127.0.0.1 failed: connection refused (ECONNREFUSED)");
  });

  it("reports a name that does not resolve as upstream_failure", async () => {
    const failing: LookupFunction = async () => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND nowhere.invalid at /some/path"), { code: "ENOTFOUND" });
    };
    const error = await expectFailure(performOutbound(request("http://nowhere.invalid/"), policy(), failing), "upstream_failure");
    expect(error.message).toBe("could not resolve nowhere.invalid: host not found (ENOTFOUND)");
  });
});

describe("DNS pinning", () => {
  it("connects to the checked public address, not to a second answer of 127.0.0.1", async () => {
    const server = await ok();
    const lookup = scriptedLookup(["93.184.215.14"], ["127.0.0.1"]);
    const before = attempts.length;
    const error = await performOutbound(
      request(`http://rebind.example:${server.port}/`, { timeoutMs: 1_000 }),
      policy(),
      lookup,
    ).catch((e: unknown) => e);
    // No route from this machine to there, or no answer in time: either way it ended elsewhere.
    expect(error).toBeInstanceOf(OutboundError);
    expect(["timeout", "upstream_failure"]).toContain((error as OutboundError).kind);
    expect(lookup.calls).toEqual(["rebind.example"]);
    expect(attempts.slice(before)).toEqual(["93.184.215.14"]);
    expect(server.hits).toHaveLength(0);
  });

  it("an allow-listed name is also resolved once and reached at the first answer", async () => {
    const server = await ok();
    const lookup = scriptedLookup(["127.0.0.1"], ["10.255.255.1"]);
    const before = attempts.length;
    const res = await performOutbound(
      request(`http://internal.example:${server.port}/`),
      policy({ allowHosts: "Internal.Example" }),
      lookup,
    );
    expect(res.statusCode).toBe(200);
    expect(lookup.calls).toEqual(["internal.example"]);
    expect(attempts.slice(before)).toEqual(["127.0.0.1"]);
    expect(server.hits[0]!.req.headers.host).toBe(`internal.example:${server.port}`);
  });
});
