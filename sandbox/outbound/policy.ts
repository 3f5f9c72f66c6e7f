// Which destinations an untrusted script may reach through op_proxy_request.
// Default: public unicast addresses only. The operator can open specific hosts
// (an internal API, a local test server) with OUTBOUND_ALLOW_HOSTS.
import net from "node:net";
import ipaddr from "ipaddr.js";
import { DEFAULT_EXECUTION_BYTES, DEFAULT_IN_FLIGHT_BYTES } from "./budget.js";

export interface AllowHost {
  /** Lower-case host name without a trailing dot, or an IP address in ipaddr.js normalized form. */
  host: string;
  /** Absent: any port. */
  port?: number;
}

export interface OutboundPolicy {
  allowHosts: AllowHost[];
  maxResponseBytes: number;
  /** One execution's response bytes being received at once, and in all (see budget.ts). */
  maxInFlightBytes: number;
  maxExecutionBytes: number;
  maxTimeoutMs: number;
  defaultTimeoutMs: number;
}

export interface OutboundPolicyConfig {
  /** The OUTBOUND_ALLOW_HOSTS format, or entries already parsed. */
  allowHosts?: string | AllowHost[];
  maxResponseBytes?: number;
  maxInFlightBytes?: number;
  maxExecutionBytes?: number;
  maxTimeoutMs?: number;
  defaultTimeoutMs?: number;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MAX_TIMEOUT_MS = 30_000;

export function createOutboundPolicy(config: OutboundPolicyConfig = {}): OutboundPolicy {
  const allowHosts =
    typeof config.allowHosts === "string" ? parseAllowHosts(config.allowHosts) : [...(config.allowHosts ?? [])];
  const maxTimeoutMs = positive("maxTimeoutMs", config.maxTimeoutMs ?? DEFAULT_MAX_TIMEOUT_MS);
  return {
    allowHosts,
    maxResponseBytes: positive("maxResponseBytes", config.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES),
    maxInFlightBytes: positive("maxInFlightBytes", config.maxInFlightBytes ?? DEFAULT_IN_FLIGHT_BYTES),
    maxExecutionBytes: positive("maxExecutionBytes", config.maxExecutionBytes ?? DEFAULT_EXECUTION_BYTES),
    maxTimeoutMs,
    // A request that names no timeout may take the whole ceiling, as the
    // reference's op_proxy_request allows (30 s by default).
    defaultTimeoutMs: Math.min(positive("defaultTimeoutMs", config.defaultTimeoutMs ?? maxTimeoutMs), maxTimeoutMs),
  };
}

/** The policy for OUTBOUND_ALLOW_HOSTS in `env`, with the default limits. */
export function outboundPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): OutboundPolicy {
  const number = (name: string) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return undefined;
    if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a positive integer`);
    return Number(raw);
  };
  return createOutboundPolicy({
    allowHosts: env.OUTBOUND_ALLOW_HOSTS ?? "",
    maxResponseBytes: number("OUTBOUND_MAX_RESPONSE_BYTES"),
    maxInFlightBytes: number("OUTBOUND_MAX_IN_FLIGHT_BYTES"),
    maxExecutionBytes: number("OUTBOUND_MAX_EXECUTION_BYTES"),
    maxTimeoutMs: number("OUTBOUND_MAX_TIMEOUT_MS"),
  });
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`outbound policy: ${name} must be a positive integer`);
  return value;
}

// ---------------------------------------------------------------------------
// OUTBOUND_ALLOW_HOSTS: comma-separated entries, each `host` or `host:port`,
// where host is a DNS name, a dotted-quad IPv4 address or a bracketed IPv6
// address. Case-insensitive; spaces around entries and empty entries are ignored.
// ---------------------------------------------------------------------------

const ENTRY = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::([^:]*))?$/;
const LABEL = "[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?";
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`);
// The WHATWG URL parser reads a host whose last label is a number as IPv4
// ("1.2.3", "0x7f.1"), so such a name could never match a URL's host name.
const NUMERIC_LAST_LABEL = /(?:^|\.)(?:0x[0-9a-f]*|[0-9]+)\.?$/;

export function parseAllowHosts(value: string): AllowHost[] {
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map(parseAllowHost);
}

function parseAllowHost(entry: string): AllowHost {
  const malformed = (reason: string) => new Error(`OUTBOUND_ALLOW_HOSTS entry "${entry}" is malformed: ${reason}`);
  if (/[/?#@*\s]/.test(entry)) throw malformed("only host or host:port (no scheme, path, user or wildcard)");
  const match = ENTRY.exec(entry.toLowerCase());
  if (!match) {
    throw malformed(
      entry.split(":").length > 2 ? "an IPv6 address must be in brackets, e.g. [2001:db8::1]:443" : "expected host or host:port",
    );
  }
  const [, bracketed, plain, portText] = match;
  let host: string;
  if (bracketed !== undefined) {
    if (!ipaddr.IPv6.isValid(bracketed) || bracketed.includes("%")) throw malformed("not an IPv6 address in brackets");
    host = ipaddr.IPv6.parse(bracketed).toNormalizedString();
  } else if (plain && /^[0-9.]+$/.test(plain)) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(plain)) throw malformed("not a dotted-quad IPv4 address");
    host = ipaddr.IPv4.parse(plain).toNormalizedString();
  } else {
    if (!plain || plain.length > 254 || !HOSTNAME.test(plain)) {
      throw malformed("not a host name (ASCII letters, digits, '-', '_' and dots; IDN in xn-- form)");
    }
    if (NUMERIC_LAST_LABEL.test(plain)) throw malformed("a name ending in a number is read as an IPv4 address");
    host = plain.replace(/\.$/, "");
  }
  if (portText === undefined) return { host };
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) throw malformed("the port must be a number from 1 to 65535");
  return { host, port };
}

/**
 * The form hosts are compared in: a URL's `hostname` (IPv6 in brackets) or an
 * address goes in; IP addresses come out normalized, names lower-case without
 * a trailing dot.
 */
export function hostKey(hostname: string): string {
  const bare = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  if (net.isIP(bare)) return ipaddr.parse(bare).toNormalizedString();
  return bare.toLowerCase().replace(/\.$/, "");
}

/** The allow-list entry that opens this host and port, if any. */
export function findAllowHost(policy: OutboundPolicy, hostname: string, port: number): AllowHost | undefined {
  const key = hostKey(hostname);
  return policy.allowHosts.find((entry) => entry.host === key && (entry.port === undefined || entry.port === port));
}

// ---------------------------------------------------------------------------
// Address check
// ---------------------------------------------------------------------------

// Cloud metadata endpoints, refused by name even if a future ipaddr.js
// classifies their ranges differently, and even behind an allow-listed host
// name (only an allow-list entry naming the address itself opens one).
// 168.63.129.16 (Azure's wire server) is a public address, so only this list stops it.
export const METADATA_ADDRESSES: readonly string[] = [
  "169.254.169.254",
  "fd00:ec2::254",
  "100.100.100.200",
  "168.63.129.16",
].map((a) => ipaddr.parse(a).toNormalizedString());

const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR("64:ff9b::/96");
const IPV4_COMPATIBLE = ipaddr.IPv6.parseCIDR("::/96");

const RANGE_NAMES: Record<string, string> = {
  unspecified: "unspecified address",
  broadcast: "broadcast address",
  multicast: "multicast address",
  linkLocal: "link-local address",
  loopback: "loopback address",
  carrierGradeNat: "carrier-grade NAT address",
  private: "private address",
  uniqueLocal: "private address (unique local)",
  reserved: "reserved address",
  rfc6052: "NAT64 address",
  "6to4": "6to4 address",
  teredo: "Teredo address",
};

export function isMetadataAddress(address: string): boolean {
  if (!net.isIP(address)) return false;
  const parsed = ipaddr.process(address);
  return METADATA_ADDRESSES.includes(parsed.toNormalizedString());
}

/**
 * Why `address` (an IP address as text) may not be reached, or undefined when it
 * may: it must be in ipaddr.js's `unicast` range. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) and a NAT64 one under the well-known prefix (64:ff9b::a.b.c.d,
 * how DNS64 networks reach public IPv4 hosts) are judged by the IPv4 address they
 * carry. 6to4, Teredo, the local-use NAT64 prefix and IPv4-compatible (::a.b.c.d)
 * addresses are refused whatever they embed: they are not `unicast` (or, for
 * ::/96, deprecated) and no legitimate destination needs them.
 */
export function addressRefusal(address: string): string | undefined {
  if (!net.isIP(address)) return "not an IP address";
  if (isMetadataAddress(address)) return "cloud metadata address";
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6") {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress() || v6.match(NAT64_WELL_KNOWN)) {
      parsed = ipaddr.fromByteArray(v6.toByteArray().slice(12));
      if (isMetadataAddress(parsed.toString())) return "cloud metadata address";
    } else if (v6.match(IPV4_COMPATIBLE) && v6.range() === "unicast") {
      return "IPv4-compatible IPv6 address";
    }
  }
  const range = parsed.range();
  return range === "unicast" ? undefined : (RANGE_NAMES[range] ?? `${range} address`);
}
