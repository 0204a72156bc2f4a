/** A-record lookups under Deno: its own resolver (Deno's node:dns does not honour setServers with a port). */
import type { Resolve4 } from "../../mesh/node/discovery.ts";

export interface DenoDns {
  resolveDns(q: string, t: "A", o?: { nameServer?: { ipAddr: string; port?: number } }): Promise<string[]>;
}

export function denoResolve4(deno: DenoDns, server?: string): Resolve4 {
  const nameServer = server === undefined ? undefined : splitHostPort(server);
  return (host) => deno.resolveDns(host, "A", nameServer === undefined ? undefined : { nameServer });
}

function splitHostPort(s: string): { ipAddr: string; port: number } {
  const i = s.lastIndexOf(":");
  return i < 0 ? { ipAddr: s, port: 53 } : { ipAddr: s.slice(0, i), port: Number(s.slice(i + 1)) };
}
