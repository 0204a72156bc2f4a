/**
 * The runtime's DNS resolver, behind one function: Deno's own under Deno
 * (deno/dns.ts), node:dns elsewhere. `server` ("host:port")
 * points it at a specific DNS server (tests run one on loopback); otherwise
 * the system resolver is used.
 */
import { Resolver } from "node:dns/promises";
import type { Resolve4 } from "../mesh/node/discovery.ts";
import { type DenoDns, denoResolve4 } from "./deno/dns.ts";

export function runtimeResolve4(server?: string): Resolve4 {
  const deno = (globalThis as { Deno?: DenoDns }).Deno;
  if (deno !== undefined) return denoResolve4(deno, server);
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  if (server !== undefined) resolver.setServers([server]);
  return (host) => resolver.resolve4(host);
}
