/**
 * The HTTP server under Bun: node:http, answering with the same fetch-style
 * handlers as Bun.serve would.
 *
 * Why not Bun.serve: up to Bun 1.4.5 at least, a request pipelined behind
 * one whose answer is not ready yet (an async handler: in a cluster, any
 * call to a process on another node) makes Bun.serve close the connection
 * unanswered ("denying async pipelining" in its uWS; oven-sh/bun PRs
 * #32868, #35036, #38128 are about it), after the first request has been
 * applied. Bun's node:http sits on the same server but queues pipelined
 * requests and writes their answers in order.
 *
 * Bodies are read whole before the handler runs (they are small JSON, and
 * capped at maxRequestBodySize: a longer one gets a bare 413, as Bun.serve
 * did). A client that goes away in the middle of its body still reaches the
 * handler, with a body that fails to read, so the app counts it as its
 * routes count everything (http/instrument.ts: not the server's error).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { ExactRoute, ServeOptions } from "./serve.ts";

type Handler = ExactRoute["handler"];

/** A listening node:http server and how to stop it; `port` is null when it could not listen. */
export interface NodeHttpServer {
  port: number | null;
  stop(): Promise<void>;
}

/** Thrown into a body read when the client left before sending all of it. */
export class ClientGoneError extends Error {
  constructor() {
    super("the client closed the connection before the whole request body arrived");
    this.name = "ClientGoneError";
  }
}

export function listenNodeHttp(opts: ServeOptions): NodeHttpServer {
  const exact = new Map<string, Handler>();
  for (const r of opts.routes ?? []) exact.set(r.method + " " + r.path, r.handler);
  const cap = opts.maxRequestBodySize;
  let origin = "http://localhost";
  const server = createServer((req, res) => {
    void answer(req, res);
  });
  // Listening errors surface through address() being null (see serve.ts); later socket errors are the clients'.
  server.on("error", () => {});

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const target = req.url ?? "/";
    let body: Uint8Array | ReadableStream<Uint8Array> | undefined;
    if (method !== "GET" && method !== "HEAD") {
      const got = await readBody(req, cap);
      if (got === "too large") {
        res.writeHead(413, { connection: "close", "content-length": "0" });
        res.end();
        return;
      }
      body = got === "gone" ? failingBody() : got;
    }
    let response: Response;
    try {
      // Absolute-form targets (a proxy's "http://host/path") are taken as they are; the usual origin-form joins our origin.
      const url = target.startsWith("/") ? origin + target : new URL(target).href;
      const request = new Request(url, { method, headers: headersOf(req.rawHeaders), body, duplex: "half" } as RequestInit);
      const q = target.indexOf("?");
      const handler = (target.startsWith("/") ? exact.get(method + " " + (q < 0 ? target : target.slice(0, q))) : undefined) ?? opts.fetch;
      response = await handler(request);
    } catch {
      response = new Response(null, { status: target.startsWith("/") ? 500 : 400 });
    }
    if (res.destroyed) return; // the client left (a body that never arrived): nobody to answer
    await send(res, response);
  }

  server.listen(opts.port, opts.hostname);
  const addr = server.address();
  const port = addr !== null && typeof addr === "object" ? addr.port : null;
  if (port !== null) origin = `http://${opts.hostname.includes(":") ? `[${opts.hostname}]` : opts.hostname}:${port}`;
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The body, "too large" past `cap` bytes (declared or counted), or "gone" if the client left first. */
function readBody(req: IncomingMessage, cap: number | undefined): Promise<Uint8Array | "too large" | "gone"> {
  const declared = req.headers["content-length"];
  if (cap !== undefined && declared !== undefined && Number(declared) > cap) {
    req.resume();
    return Promise.resolve("too large");
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    const finish = (v: Uint8Array | "too large" | "gone") => {
      if (done) return;
      done = true;
      resolve(v);
    };
    req.on("data", (c: Buffer) => {
      total += c.byteLength;
      if (cap !== undefined && total > cap) {
        req.resume();
        finish("too large");
      } else chunks.push(c);
    });
    req.on("end", () => finish(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)));
    req.on("error", () => finish("gone"));
    req.on("close", () => finish(req.complete ? Buffer.concat(chunks, total) : "gone"));
  });
}

/** A body that fails when read: the handler sees the client's disconnect as a failed read, as under Bun.serve or Deno. */
function failingBody(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (c) => c.error(new ClientGoneError()) });
}

function headersOf(raw: string[]): Headers {
  const h = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
  return h;
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  const headers: string[] = []; // flat [name, value, name, value, ...], as writeHead takes them
  response.headers.forEach((v, k) => headers.push(k, v));
  let payload: Uint8Array | undefined;
  try {
    payload = response.body === null ? undefined : new Uint8Array(await response.arrayBuffer());
  } catch {
    res.destroy(); // a body that failed half-way: the length promised cannot be kept
    return;
  }
  if (payload !== undefined && !response.headers.has("content-length")) headers.push("content-length", String(payload.byteLength));
  res.writeHead(response.status, headers);
  res.end(payload);
}
