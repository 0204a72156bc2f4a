/** How serve.ts turns a parsed request head into a Request, and finds the handler of its exact route. */
import type { ExactRoute } from "../serve.ts";
import type { RequestHead } from "./parse.ts";

export type Handler = ExactRoute["handler"];
export type RouteTable = Map<string, Map<string, Handler>>;

export function routeTable(routes: readonly ExactRoute[]): RouteTable {
  const exact: RouteTable = new Map();
  for (const r of routes) {
    let m = exact.get(r.method);
    if (m === undefined) exact.set(r.method, (m = new Map()));
    m.set(r.path, r.handler);
  }
  return exact;
}

/** The handler of `head`'s exact route (HEAD as GET, the query left out), else `fallback`. */
export function routeOf(exact: RouteTable, head: RequestHead, fallback: Handler): Handler {
  const t = head.target;
  if (t.charCodeAt(0) !== 47) return fallback;
  const q = t.indexOf("?");
  return exact.get(head.method === "HEAD" ? "GET" : head.method)?.get(q < 0 ? t : t.slice(0, q)) ?? fallback;
}

/** `head` (and its body) as a Request; `origin` ("http://host:port") joins an origin-form target. */
export function requestOf(origin: string, head: RequestHead, body: Uint8Array | ReadableStream<Uint8Array> | undefined): Request {
  const t = head.target;
  // Absolute-form targets (a proxy's "http://host/path") are taken as they are; the usual origin-form joins our origin.
  const url = t.charCodeAt(0) === 47 /* / */ ? origin + t : new URL(t).href;
  // A HEAD is handled as the GET it mirrors: answer() leaves the body out.
  const init: RequestInit & { duplex?: "half" } = { method: head.method === "HEAD" ? "GET" : head.method, headers: head.headers };
  if (body !== undefined) {
    init.body = body as BodyInit; // a view of this read's own buffer (the Request copies it), never shared memory
    if (!(body instanceof Uint8Array)) init.duplex = "half";
  }
  return new Request(url, init);
}
