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
  const server = deno.serve({ hostname: opts.hostname, port: opts.port, handler: (req) => (req.method === "HEAD" ? headOf(opts.fetch, req) : opts.fetch(req)), onListen: () => {} });
  return { port: server.addr.port, stop: () => server.shutdown() };
}

/**
 * HEAD as GET's status and headers, Content-Length included: Hono answers
 * a HEAD with no body and Deno.serve then says `content-length: 0` (Bun's
 * server says the GET's length, as the README promises). Deno sends no body for HEAD.
 */
async function headOf(fetch: ServeOptions["fetch"], req: Request): Promise<Response> {
  // Asked as GET: the router answers a HEAD with no body and no length already.
  const res = await fetch(new Request(req, { method: "GET" }));
  if (res.body === null || res.headers.has("content-length")) return res;
  const bytes = await res.arrayBuffer();
  const headers = new Headers(res.headers);
  headers.set("content-length", String(bytes.byteLength));
  // With the body (Deno sends none for HEAD): a null body would make it say 0 again.
  return new Response(bytes, { status: res.status, statusText: res.statusText, headers });
}
