/**
 * The one module that touches the runtime's HTTP server: Bun.serve under
 * Bun, Deno.serve under Deno, detected through globalThis so the same code
 * type-checks and runs on both.
 */
type Handler = (req: Request) => Response | Promise<Response>;

/** A handler for one exact path and method, served by the runtime's own router where it has one. */
export interface ExactRoute {
  method: "GET" | "POST";
  path: string;
  handler: Handler;
}

interface BunServer {
  port: number;
  stop(closeActiveConnections?: boolean): void | Promise<void>;
}
interface BunRuntime {
  serve(o: {
    hostname: string;
    port: number;
    fetch: Handler;
    maxRequestBodySize?: number;
    routes?: Record<string, Partial<Record<ExactRoute["method"], Handler>>>;
  }): BunServer;
}
interface DenoServer {
  addr: { hostname: string; port: number };
  shutdown(): Promise<void>;
}
interface DenoRuntime {
  serve(o: { hostname: string; port: number; handler: Handler; onListen?: (addr: unknown) => void }): DenoServer;
}

export interface ServeOptions {
  hostname: string;
  /** 0 picks a free port; the chosen one is in the result. */
  port: number;
  fetch: Handler;
  /**
   * Where the runtime can (Bun), it refuses bodies past this many bytes
   * itself, with a bare 413, before any of them is buffered; see bodyCap().
   */
  maxRequestBodySize?: number;
  /**
   * Handlers for exact paths (http/instrument.ts's staticRoutes()). Bun
   * matches these natively, before `fetch`; a request for another method or
   * path still goes to `fetch`, which must answer these routes the same way
   * (Deno, and anyone calling `fetch` directly, only has that).
   */
  routes?: readonly ExactRoute[];
}

/**
 * The body size past which the server refuses a request on its own, when
 * served with `maxRequestBodySize`; undefined on a runtime that cannot
 * (Deno), where the app must count what it reads.
 */
export function bodyCap(maxRequestBodySize: number): number | undefined {
  return (globalThis as { Bun?: unknown }).Bun !== undefined ? maxRequestBodySize : undefined;
}

export interface Served {
  /** Base URL, e.g. http://127.0.0.1:4380 */
  url: string;
  hostname: string;
  port: number;
  /** Stop listening and close connections. */
  stop(): Promise<void>;
}

export function serve(opts: ServeOptions): Served {
  const rt = globalThis as unknown as { Bun?: BunRuntime; Deno?: DenoRuntime };
  if (rt.Bun !== undefined) {
    const o: Parameters<BunRuntime["serve"]>[0] = { hostname: opts.hostname, port: opts.port, fetch: opts.fetch };
    if (opts.maxRequestBodySize !== undefined) o.maxRequestBodySize = opts.maxRequestBodySize;
    if (opts.routes !== undefined && opts.routes.length > 0) o.routes = bunRoutes(opts.routes);
    const server = rt.Bun.serve(o);
    return served(opts.hostname, server.port, async () => {
      await server.stop(true);
    });
  }
  if (rt.Deno !== undefined) {
    const server = rt.Deno.serve({ hostname: opts.hostname, port: opts.port, handler: opts.fetch, onListen: () => {} });
    return served(opts.hostname, server.addr.port, () => server.shutdown());
  }
  throw new Error("roomy's HTTP server needs Bun or Deno");
}

function bunRoutes(routes: readonly ExactRoute[]): Record<string, Partial<Record<ExactRoute["method"], Handler>>> {
  const out: Record<string, Partial<Record<ExactRoute["method"], Handler>>> = {};
  for (const r of routes) (out[r.path] ??= {})[r.method] = r.handler;
  return out;
}

function served(hostname: string, port: number, stop: () => Promise<void>): Served {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  let stopping: Promise<void> | null = null;
  return { url: `http://${host}:${port}`, hostname, port, stop: () => (stopping ??= stop()) };
}
