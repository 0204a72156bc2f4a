/**
 * The runtime's DNS resolver, behind one function. `server` ("host:port")
 * points it at a specific DNS server (tests run one on loopback); otherwise
 * the system resolver is used.
 */
import { Resolver } from "node:dns/promises";
import type { Resolve4 } from "../mesh/node/discovery.ts";

interface DenoDns {
  resolveDns(q: string, t: "A", o?: { nameServer?: { ipAddr: string; port?: number } }): Promise<string[]>;
}

export function runtimeResolve4(server?: string): Resolve4 {
  const deno = (globalThis as { Deno?: DenoDns }).Deno;
  if (deno !== undefined) {
    // Deno's node:dns does not honour setServers with a port; its own API does.
    const nameServer = server === undefined ? undefined : splitHostPort(server);
    return (host) => deno.resolveDns(host, "A", nameServer === undefined ? undefined : { nameServer });
  }
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  if (server !== undefined) resolver.setServers([server]);
  return (host) => resolver.resolve4(host);
}

function splitHostPort(s: string): { ipAddr: string; port: number } {
  const i = s.lastIndexOf(":");
  return i < 0 ? { ipAddr: s, port: 53 } : { ipAddr: s.slice(0, i), port: Number(s.slice(i + 1)) };
}
