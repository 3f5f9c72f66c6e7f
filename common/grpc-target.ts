// What a service's *_URL may say, and how it becomes a grpc-js target:
//   host:port                    one instance, or every address DNS gives the host
//   dns:///name:port             the same, spelled as gRPC spells it
//   host1:port1,host2:port2,...  these instances, each host looked up in turn
// Every form goes through one resolver here, which looks the names up again
// when an instance leaves and every few seconds, so that instances that
// joined behind a name are found; each is balanced the same way (see
// grpc-balancing.ts).
import dns from "node:dns/promises";
import * as grpc from "@grpc/grpc-js";

const { statusOrFromError, statusOrFromValue } = grpc.experimental;

const LIST_SCHEME = "secutils-list";
const HOST_PORT = /^[^\s/:,]+:\d{1,5}$/;
/** Names are looked up again at most this often when the balancer asks (an instance left)... */
const RELOOKUP_MS = 1_000;
/** ...and at least this often, for instances that joined. */
const REFRESH_MS = 10_000;

/** True when `value` is one of the forms above. */
export function isGrpcTarget(value: string): boolean {
  if (value.startsWith("dns:///")) return HOST_PORT.test(value.slice("dns:///".length));
  return value.split(",").every((part) => HOST_PORT.test(part));
}

/** The grpc-js target for a *_URL value. */
export function grpcTarget(value: string): string {
  return `${LIST_SCHEME}:///${value.startsWith("dns:///") ? value.slice("dns:///".length) : value}`;
}

const splitHostPort = (hp: string) => {
  const i = hp.lastIndexOf(":");
  return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
};

/** Every instance a *_URL value names now, as host:port (IP addresses where the name resolves). */
export async function instancesOf(value: string): Promise<string[]> {
  const named = value.startsWith("dns:///") ? [value.slice("dns:///".length)] : value.split(",");
  const found = await Promise.all(named.map((hp) => lookupAll(hp).catch(() => [hp])));
  return [...new Set(found.flat())];
}

async function lookupAll(hp: string): Promise<string[]> {
  const { host, port } = splitHostPort(hp);
  const addresses = await dns.lookup(host, { all: true, family: 4 });
  return addresses.map((a) => `${a.address}:${port}`);
}

/**
 * The resolver for every target: grpc-js's own `ipv4:` list takes addresses
 * only, and its DNS resolver asks again only when an instance leaves.
 * Looks every name up again when the balancer asks (at most once a second),
 * and every REFRESH_MS, passing a result on then only when it changed.
 */
class ListResolver implements grpc.experimental.Resolver {
  private last = 0;
  private lastFound = "";
  private pending: NodeJS.Timeout | undefined;
  private readonly refresh: NodeJS.Timeout;
  private destroyed = false;

  constructor(
    private readonly target: grpc.experimental.GrpcUri,
    private readonly listener: grpc.experimental.ResolverListener,
  ) {
    this.refresh = setInterval(() => void this.resolve(false), REFRESH_MS);
    this.refresh.unref();
  }

  updateResolution(): void {
    if (this.pending || this.destroyed) return;
    const wait = Math.max(0, this.last + RELOOKUP_MS - Date.now());
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.resolve(true);
    }, wait);
    this.pending.unref();
  }

  private async resolve(asked: boolean): Promise<void> {
    this.last = Date.now();
    const instances = await instancesOf(this.target.path);
    if (this.destroyed) return;
    const found = [...instances].sort().join(",");
    // Unchanged: the balancer keeps its connections (a new list would rebuild them).
    if (!asked && found === this.lastFound) return;
    this.lastFound = found;
    if (instances.length === 0) {
      this.listener(statusOrFromError({ code: grpc.status.UNAVAILABLE, details: "no instance found", metadata: new grpc.Metadata() }), {}, null, "");
      return;
    }
    const endpoints = instances.map((hp) => ({ addresses: [splitHostPort(hp)] }));
    this.listener(statusOrFromValue(endpoints), {}, null, "");
  }

  destroy(): void {
    this.destroyed = true;
    clearTimeout(this.pending);
    clearInterval(this.refresh);
    this.pending = undefined;
  }

  static getDefaultAuthority(target: grpc.experimental.GrpcUri): string {
    return target.path.split(",")[0]!;
  }
}

grpc.experimental.registerResolver(LIST_SCHEME, ListResolver);
