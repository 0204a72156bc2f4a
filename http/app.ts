/**
 * The admin API as a Hono app: health and readiness for probes, /metrics,
 * the dashboard, the /v1 operations (behind the bearer token when one is
 * set), and errors as `{"error":{"code","message"}}` with the status that
 * fits the code. It only needs a Node; serving it is adapter/serve.ts's job.
 */
import { readiness } from "./readiness.ts";
import { Hono } from "hono";
import { httpStatus, RoomyError } from "../core/errors.ts";
import type { Node } from "../mesh/node/node.ts";
import type { Logger } from "../mesh/types.ts";
import { tokenRefusal } from "./auth.ts";
import { DEFAULT_MAX_BODY_BYTES } from "./body.ts";
import { registerDashboard } from "./dashboard.ts";
import { createHttpStats } from "./http-stats.ts";
import { instrumentedRoutes } from "./instrument.ts";
import { renderMetrics } from "./metrics.ts";
import { registerOverview } from "./overview.ts";
import { PROM_CONTENT_TYPE } from "./prom.ts";
import { JSON_CONTENT_TYPE, orderedJson } from "./json.ts";
import type { Prebuilt } from "../adapter/prebuilt.ts";
import { clientSignal, type RefusalStatus } from "../adapter/serve.ts";
import { runtimeDefer } from "../adapter/defer.ts";
import { registerV1, sendJson } from "./routes.ts";

export interface AppOptions {
  /** Largest request body accepted (default 64 KiB); larger ones get 413 `payload_too_large`. */
  maxBodyBytes?: number;
  /**
   * The server in front refuses bodies past this many bytes by itself
   * (serve()'s maxRequestBodySize, see bodyCap()); bodies are then read whole
   * before being measured. Must be larger than maxBodyBytes, or it is ignored.
   */
  serverBodyCap?: number;
  /** Extra readiness condition on top of the node's own (joined and caught up). */
  ready?: () => boolean;
  /** Where unexpected errors are reported (default: the node's logger). */
  logger?: Logger;
  /**
   * Bearer token every /v1 route requires (ROOMY_ADMIN_TOKEN); none: open.
   * /healthz, /readyz, /metrics and the dashboard page stay open.
   */
  adminToken?: string;
  /** One debug log line per request (method, route, status, time; never headers). */
  accessLog?: boolean;
}

/**
 * The status a request the client gave up on half-way is counted under in
 * roomy_http_requests_total (nginx's "client closed request"; never sent).
 */
export const CLIENT_CLOSED_REQUEST = 499;

export function createApp(node: Node, opts: AppOptions = {}): Hono {
  const logger = opts.logger ?? node.logger;
  const app = new Hono();
  const stats = createHttpStats({ accessLog: opts.accessLog === true ? logger : undefined });
  const token = opts.adminToken !== undefined && opts.adminToken !== "" ? opts.adminToken : undefined;
  const onError = (err: unknown, method: string, path: string): Response => {
    if (err instanceof RoomyError) return errorJson(err.toJSON(), httpStatus(err.code));
    logger.error("request failed", { method, path, error: String(err) });
    return errorJson({ code: "internal", message: "internal error" }, 500);
  };
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const cap = opts.serverBodyCap;
  const routes = instrumentedRoutes(app, {
    stats,
    onError,
    notFound: errorResponse,
    clientGone: (method, path, err) => {
      logger.debug("client left before sending the whole request body", { method, path, error: String(err) });
      return new Response(null, { status: CLIENT_CLOSED_REQUEST });
    },
    afterStall: {
      behind: () => node.loopBehind(),
      // Two passes of the loop, each a 1 ms timer and then a setImmediate, so
      // that the sockets are polled between (a setImmediate alone is not; a
      // timer alone may fire before the poll that reads the client's end, as
      // it did on a loaded machine).
      turn: () => new Promise<void>((resolve) => {
        const pass = (n: number): void => void node.clock.setTimer(1, () => runtimeDefer(() => (n > 1 ? pass(n - 1) : resolve())));
        pass(2);
      }),
      signal: clientSignal,
      abandoned: (method, path) => {
        logger.info("dropped a write unapplied: its client gave up while this node's event loop stalled", { method, path });
        // Nobody is likely to read it; one that half-closed and still reads learns a retry is safe.
        return errorJson(new RoomyError("unavailable", "this node stalled and its client closed the connection meanwhile: the write was not applied", true).toJSON(), 503);
      },
    },
    body: { maxBodyBytes, serverCapped: cap !== undefined && cap > maxBodyBytes },
    guard: token === undefined ? undefined : { prefix: "/v1", check: (req) => tokenRefusal(token, req.headers.get("authorization")) },
  });

  routes.get("/healthz", () => sendJson({ ok: true, node: node.name }));
  routes.get("/readyz", () => {
    // A joined node of the Raft lot that cannot serve lot writes (no leader:
    // majority lost, or an election under way, usually well under a second)
    // is not ready, nor one without the quorum lease (http/readiness.ts).
    const r = readiness(node, opts.ready?.() ?? true);
    if (r.ready) return sendJson({ ready: true, node: node.name }, 200);
    return sendJson(r.reason === undefined ? { ready: false, node: node.name } : { ready: false, node: node.name, reason: r.reason }, 503);
  });
  routes.get("/metrics", async () => {
    const text = await renderMetrics({ node, http: stats });
    return new Response(text, { status: 200, headers: { "content-type": PROM_CONTENT_TYPE } });
  });
  registerDashboard(routes);
  registerOverview(routes, node);
  registerV1(routes, node, maxBodyBytes);
  return app;
}

/**
 * What the server answers for a request it refuses before the app sees it
 * (serve()'s `refusal`): the contract's JSON error, as the app would give.
 * 413: a body past the server's hard cap, so past `maxBodyBytes` too, on any
 * route; 400: bytes that are not an HTTP/1.1 request, or a head too long;
 * 408: a head or body not received whole in time (a client dripping it, slowloris);
 * 404: a method no route has that a Request would not keep as sent ("get", "FOO").
 */
export function serverRefusal(maxBodyBytes = DEFAULT_MAX_BODY_BYTES): (status: RefusalStatus) => Prebuilt {
  const answer = (code: "bad_request" | "not_found" | "request_timeout" | "payload_too_large", message: string): Prebuilt => ({
    status: httpStatus(code),
    headers: `content-type: ${JSON_CONTENT_TYPE}\r\n`,
    body: new TextEncoder().encode(orderedJson({ error: { code, message } })),
  });
  const refusals = {
    400: answer("bad_request", "the request is not HTTP/1.1 this server takes: a malformed request line, header field or body framing, or a request head (URL and headers) over 64 KiB"),
    404: answer("not_found", "no route for this method: methods are case-sensitive, and the API takes GET, HEAD and POST"),
    408: answer("request_timeout", "the request did not arrive whole in time: its head (URL and headers) within 10 s of its first byte, or its body within 30 s of the head"),
    413: answer("payload_too_large", `request body is larger than ${maxBodyBytes} bytes`),
  };
  return (status) => refusals[status];
}

function errorJson(error: unknown, status: number): Response {
  return sendJson({ error }, status);
}

function errorResponse(method: string, path: string): Response {
  const body = JSON.stringify({ error: { code: "not_found", message: `no route for ${method} ${path}` } });
  return new Response(body, { status: 404, headers: { "content-type": JSON_CONTENT_TYPE } });
}
