/** Bun.listen for the HTTP server (serve.ts), failing as Bun.serve does. */
import type { TCPSocketListener } from "bun";
import type { ServeOptions } from "../serve.ts";
import type { Conn } from "./conn.ts";

/** Bun.listen, throwing for a port in use the error Bun.serve gives (the CLI and its tests know it). */
export function listen(opts: ServeOptions, socket: Parameters<typeof Bun.listen<Conn>>[0]["socket"]): TCPSocketListener<Conn> {
  try {
    // Half-open: a client that shuts down its sending side after its requests still gets the answers (see end).
    return Bun.listen<Conn>({ hostname: opts.hostname, port: opts.port, socket, allowHalfOpen: true });
  } catch (err) {
    const e = err as Error & { code?: string; syscall?: string; errno?: number };
    if (e.code !== "EADDRINUSE") throw err;
    const same = new Error(`Failed to start server. Is port ${opts.port} in use?`) as Error & { code?: string; syscall?: string; errno?: number };
    same.code = "EADDRINUSE";
    same.syscall = "listen";
    same.errno = 0;
    throw same;
  }
}
