import { isIPv6 } from "node:net";

/**
 * The caller as the reference product shows it: a socket address, "ip:port"
 * ("[ip]:port" for IPv6). A connection's own peer has its port; an address a
 * trusted proxy forwarded has none to give, so its port is 0, as there.
 * IPv4 callers of a dual-stack listener are shown as IPv4.
 */
export function clientAddressOf(ip: string | undefined, socket: { remoteAddress?: string; remotePort?: number }): string | undefined {
  if (!ip) return undefined;
  const port = ip === socket.remoteAddress ? (socket.remotePort ?? 0) : 0;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const host = mapped ? mapped[1]! : ip;
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** How the request reached the gateway, for the headers a script is shown (see forwardedHeaders). */
export interface Arrival {
  /** The client's IP as resolved (through trusted proxies, if any). */
  ip: string | undefined;
  /** Whether the connection's peer is a trusted proxy. */
  viaProxy: boolean;
  encrypted: boolean;
}

/**
 * The headers an ingress adds, which the reference's scripts find in
 * `context.headers` (its runtime guide promises `x-real-ip` and
 * `x-forwarded-*` there): set as a proxy in front of the gateway would have
 * set them. `x-real-ip` is always the client as resolved, whatever the caller
 * sent in it. Behind a trusted proxy its `x-forwarded-*` stand, and only the
 * missing ones are filled; at the edge the gateway is that proxy, so it adds
 * the peer to `x-forwarded-for` and says the protocol and host itself.
 */
export function forwardedHeaders(arrival: Arrival, headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  if (!arrival.ip) return out;
  const ip = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(arrival.ip)?.[1] ?? arrival.ip;
  out["x-real-ip"] = ip;
  // An empty value counts as none.
  const sent = (name: string) => (arrival.viaProxy ? headers[name] || undefined : undefined);
  const priorFor = headers["x-forwarded-for"] || undefined;
  out["x-forwarded-for"] = arrival.viaProxy ? (priorFor ?? ip) : priorFor ? `${priorFor}, ${ip}` : ip;
  out["x-forwarded-proto"] = sent("x-forwarded-proto") ?? (arrival.encrypted ? "https" : "http");
  const host = sent("x-forwarded-host") ?? headers.host;
  if (host) out["x-forwarded-host"] = host;
  return out;
}
