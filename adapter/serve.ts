/**
 * The runtime's HTTP server, picked here: our own HTTP/1.1 on Bun.listen
 * under Bun (bun/serve.ts says why not Bun.serve: it drops pipelined
 * requests; nor node:http: three times the CPU), Deno.serve under Deno
 * (deno/serve.ts), detected through globalThis so the same code type-checks
 * and runs on both.
 */
import { listenBunHttp } from "./bun/serve.ts";
import { bunClientSignal } from "./bun/conn.ts";
import { type DenoHttp, listenDenoHttp } from "./deno/serve.ts";
import type { Prebuilt } from "./prebuilt.ts";
type Handler = (req: Request) => Response | Promise<Response>;

/** A handler for one exact path and method, served by the runtime's own router where it has one. */
export interface ExactRoute {
  method: "GET" | "POST";
  path: string;
  handler: Handler;
  /**
   * Its answers may be big (a dump): under Bun, on a connection with
   * pipelined requests, it starts only once every answer before it was
   * written, so a connection holds one such answer at most, however many
   * it asks for without reading them.
   */
  alone?: boolean;
}

/** The statuses the server answers on its own, before any handler (ServeOptions.refusal). */
export type RefusalStatus = 400 | 404 | 408 | 413;

export interface ServeOptions {
  hostname: string;
  /** 0 picks a free port; the chosen one is in the result. */
  port: number;
  fetch: Handler;
  /**
   * Where the runtime can (Bun), the server refuses bodies past this many
   * bytes itself, with a bare 413, buffering no more of them; see bodyCap().
   */
  maxRequestBodySize?: number;
  /**
   * The answer to a request the server refuses on its own, before any
   * handler sees it (Bun: 413 for a body past maxRequestBodySize, 400 for
   * bytes that are not HTTP/1.1, 408 for a head not whole within
   * headTimeout or a body not whole within bodyTimeout, all closing the connection; 404 for a method a Request
   * would not keep as sent: "get", "FOO"), its bytes made once. Default: the bare status. The admin API gives its
   * JSON errors (http/app.ts serverRefusal), so every answer has the
   * contract's shape.
   */
  refusal?: (status: RefusalStatus) => Prebuilt;
  /**
   * Handlers for exact paths (http/instrument.ts's staticRoutes()). Under
   * Bun they are looked up by method and path before `fetch` (bun/serve.ts),
   * skipping Hono's router; a request for another method or
   * path still goes to `fetch`, which must answer these routes the same way
   * (Deno, and anyone calling `fetch` directly, only has that).
   */
  routes?: readonly ExactRoute[];
  /**
   * Under Bun, seconds a connection may stay silent while no handler of
   * its is running before it is closed (default 10, as Bun.serve's).
   */
  idleTimeout?: number;
  /**
   * Under Bun, seconds an answer being written may go without the socket
   * taking any more of it before the connection is dropped (default 60:
   * bun/deadline.ts WRITE_STALL_S); the idle timeout does not cut off a
   * slow reader meanwhile.
   */
  writeStallTimeout?: number;
  /**
   * Under Bun, seconds a request head (request line and headers) may take
   * from its first byte to its end before it is refused with a 408 and the
   * connection closed (default 10: bun/deadline.ts). Every byte re-arms the
   * idle timeout; this bounds a client that drips its head.
   */
  headTimeout?: number;
  /**
   * Under Bun, seconds a request body may take from its head's end (or from
   * the 100 Continue the client asked for) to its last byte before it is
   * refused with a 408, its handler never run, and the connection closed
   * (default 30: bun/deadline.ts). Bounds a client that drips its body.
   */
  bodyTimeout?: number;
}

/**
 * The body size past which the server refuses a request on its own, when
 * served with `maxRequestBodySize`; undefined on a runtime that cannot
 * (Deno), where the app must count what it reads.
 */
export function bodyCap(maxRequestBodySize: number): number | undefined {
  return (globalThis as { Bun?: unknown }).Bun !== undefined ? maxRequestBodySize : undefined;
}

/**
 * A signal that aborts once the client that sent `req` is gone: under Bun,
 * it closed the connection or its sending side (bun/conn.ts); under Deno,
 * the request's own signal (Deno.serve aborts it when the connection closes).
 */
export function clientSignal(req: Request): AbortSignal {
  return bunClientSignal(req) ?? req.signal;
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
  const rt = globalThis as unknown as { Bun?: unknown; Deno?: DenoHttp };
  if (rt.Bun !== undefined) {
    // Throws at once if it cannot listen (a port in use: Bun.serve's error, code EADDRINUSE).
    const server = listenBunHttp(opts);
    return served(opts.hostname, server.port, server.stop);
  }
  if (rt.Deno !== undefined) {
    const server = listenDenoHttp(rt.Deno, opts);
    return served(opts.hostname, server.port, server.stop);
  }
  throw new Error("roomy's HTTP server needs Bun or Deno");
}

function served(hostname: string, port: number, stop: () => Promise<void>): Served {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  let stopping: Promise<void> | null = null;
  return { url: `http://${host}:${port}`, hostname, port, stop: () => (stopping ??= stop()) };
}
