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
