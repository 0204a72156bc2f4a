/** The HTTP server under Deno: Deno.serve, reached through globalThis so the code type-checks under Bun too. */
import type { ServeOptions } from "../serve.ts";

interface DenoServer {
  addr: { hostname: string; port: number };
  shutdown(): Promise<void>;
}
export interface DenoHttp {
  serve(o: { hostname: string; port: number; handler: ServeOptions["fetch"]; onListen?: (addr: unknown) => void }): DenoServer;
}

export function listenDenoHttp(deno: DenoHttp, opts: ServeOptions): { port: number; stop(): Promise<void> } {
  const server = deno.serve({ hostname: opts.hostname, port: opts.port, handler: opts.fetch, onListen: () => {} });
  return { port: server.addr.port, stop: () => server.shutdown() };
}
