/** "host:port" mesh addresses; IPv6 hosts are bracketed ("[::1]:4370"). */
import type { Address } from "../types.ts";

export interface HostPort {
  host: string;
  port: number;
}

/** Parse "host:port" (port 0..65535). Throws on anything else. */
export function parseAddress(address: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(address.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`invalid address "${address}": expected host:port`);
  return { host: (m[1] ?? m[2])!, port };
}

export function formatAddress(host: string, port: number): Address {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** True for hosts that name no single machine (other nodes cannot dial them). */
export function isWildcardHost(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "";
}
