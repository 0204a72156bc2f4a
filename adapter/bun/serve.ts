/**
 * The HTTP/1.1 server under Bun: Bun.listen (raw TCP on uSockets) and a small
 * parser, answering with the same fetch-style handlers as Bun.serve would.
 *
 * Why not Bun.serve: up to Bun 1.4.5 at least, a request pipelined behind one
 * whose answer is not ready yet (any call to a process on another node) makes
 * it close the connection unanswered ("denying async pipelining" in its uWS;
 * oven-sh/bun PRs #32868, #35036, #38128). Why not node:http, which queues
 * them: a roomy walk-into cost about three times the CPU through it.
 *
 * Each connection keeps a queue of answer slots in request order: requests
 * are parsed as they arrive (up to MAX_IN_FLIGHT, then reading pauses), their
 * handlers started in turn (order.ts: a write after all before it, reads side
 * by side), and answers are written from the head of the queue
 * once ready, consecutive ready ones in one write. Bodies are read whole
 * before the handler runs (small JSON here), capped at maxRequestBodySize (a
 * 413, then a lingering close: linger.ts; ServeOptions.refusal's answer). A client that goes away in the
 * middle of its body still reaches the handler, with a body that fails to
 * read, so the app counts it (http/instrument.ts: not the server's error).
 * Anything malformed gets a 400 (the refusal's too) and a close; a head or
 * body not whole in time, a 408 and a close (deadline.ts). A HEAD runs the
 * GET handler and gets its status, headers and Content-Length without the
 * body (RFC 9110 9.3.2: a HEAD's Content-Length, when sent, is the GET's).
 */
import { REASONS, refusalBytes } from "./status-text.ts";
import { type Prebuilt, prebuiltOf } from "../prebuilt.ts";
import { releaseBuffer } from "../release.ts";
import { monotonicMs } from "../clock.ts";
import type { Socket, TCPSocketListener } from "bun";
import { listen } from "./listen.ts";
import { arm, BODY_S, bodyBegun, HEAD_S, headBegun, IDLE_S, late, ranOut, type Timers, WRITE_STALL_S } from "./deadline.ts";
import { type Conn, connOf, type Slot } from "./conn.ts";
import { closeAfterAnswers, dropped } from "./linger.ts";
import { finished, isSafe, METHODS, newOrder, startNow, wait } from "./order.ts";
import { failingBody, HeadError, hopelessHead, parseHead, type RequestHead, startBody } from "./parse.ts";
import type { ServeOptions } from "../serve.ts";
import { type Handler, requestOf, routeOf, routeTable } from "./request.ts";

/** Requests started but not yet answered on one connection before it stops reading (the client waits for answers). */
const MAX_IN_FLIGHT = 128;
const CONTINUE = Buffer.from("HTTP/1.1 100 Continue\r\n\r\n");
/** As bytes: Buffer.indexOf finds a Buffer several times faster than a string. */
const CRLF2 = Buffer.from("\r\n\r\n");

export interface BunHttpServer {
  port: number;
  stop(): Promise<void>;
}

export function listenBunHttp(opts: ServeOptions): BunHttpServer {
  const exact = routeTable(opts.routes ?? []);
  // Routes whose answers may be big (a dump): one at a time per connection, once the client read all before (run()).
  const alone = new Set((opts.routes ?? []).filter((r) => r.alone === true).map((r) => r.handler));
  const cap = opts.maxRequestBodySize ?? Infinity;
  const timers: Timers = {
    idle: opts.idleTimeout ?? IDLE_S,
    headMs: (opts.headTimeout ?? HEAD_S) * 1000,
    bodyMs: (opts.bodyTimeout ?? BODY_S) * 1000,
    writeStallMs: (opts.writeStallTimeout ?? WRITE_STALL_S) * 1000,
  };
  const refusedWith = (status: 400 | 408 | 413): Buffer => refusalBytes(status, opts.refusal?.(status));
  const refused = { 400: refusedWith(400), 408: refusedWith(408), 413: refusedWith(413) };
  const refused404 = refusalBytes(404, opts.refusal?.(404), false);
  let origin = "";
  // The head being serialized by answer(), filled by addHeader (one function for all, no closure per answer).
  let head = "";
  const addHeader = (v: string, k: string): void => {
    if (k === "content-length" || k === "connection" || k === "transfer-encoding" || k === "keep-alive") return;
    head += k + ": " + v + "\r\n";
  };

  /** Parses and starts what `data` holds from `off`; keeps the unconsumed rest. */
  function consume(s: Socket<Conn>, c: Conn, data: Uint8Array, off: number): void {
    try {
      while (off < data.length && (c.reading !== null || !c.done)) {
        if (c.reading !== null) {
          off = c.reading.body.feed(data, off);
          const r = c.reading;
          if (r.body.failed !== null) return fail(s, c, r.slot, r.body.failed);
          if (!r.body.complete) break;
          c.reading = null;
          start(s, c, r.head, r.body.bytes(), r.slot);
          continue;
        }
        if (c.queue.length >= MAX_IN_FLIGHT || c.pending !== null) {
          // The client is ahead of the answers: stop reading until they catch up (flush resumes).
          if (!c.paused) s.pause();
          c.paused = true;
          c.headAt = -1; // not read meanwhile: a head's clock starts again at resume
          break;
        }
        // Empty lines between requests are skipped (RFC 9112 2.2); past two, they start the head's clock (a drip of them).
        const from = off;
        while (data[off] === 13 && data[off + 1] === 10) off += 2;
        if (off > from && (c.blank += (off - from) >> 1) > 2) headBegun(c);
        if (off >= data.length) break;
        const end = (data as Buffer).indexOf(CRLF2, off);
        if (end < 0) {
          if (data.length - off > 64 * 1024 || hopelessHead(data, off)) throw new HeadError(400);
          if (data.length - off > 1 || data[off] !== 13) headBegun(c); // a lone CR may be half an empty line
          break;
        }
        const head = parseHead(data, off, end);
        off = end + 4;
        c.headAt = -1;
        c.blank = 0;
        const slot: Slot = { out: null, close: head.close, cont: false };
        c.queue.push(slot);
        if (head.close) c.done = true;
        const len = head.contentLength;
        if (len > 0 && len <= cap && data.length - off >= len) {
          // The whole body is here (the usual small JSON): no reader to go through.
          off += len;
          start(s, c, head, data.subarray(off - len, off), slot);
          continue;
        }
        const body = startBody(head, cap);
        if (body === null) {
          start(s, c, head, undefined, slot);
          continue;
        }
        c.reading = { head, body, slot };
        if (head.expectContinue) c.bodyAt = -1; // its clock starts once the 100 Continue is written (flush)
        else bodyBegun(c);
        off = body.feed(data, off);
        if (body.failed !== null) return fail(s, c, slot, body.failed);
        if (body.complete) {
          c.reading = null;
          start(s, c, head, body.bytes(), slot);
        } else if (head.expectContinue) {
          slot.cont = true;
          if (c.queue[0] === slot) flush(s, c);
        }
      }
    } catch (err) {
      if (!(err instanceof HeadError)) throw err;
      return fail(s, c, null, err.status);
    }
    c.buf = off < data.length ? data.slice(off) : null;
    if (c.ended && !c.paused) lastRequest(s, c);
  }

  /**
   * The client has sent all it will (a half-close, as `nc -N` or a one-shot
   * client does) and what it sent is parsed: the answers go out, then the
   * connection closes. A request cut short (a body half-way) is a client gone.
   */
  function lastRequest(s: Socket<Conn>, c: Conn): void {
    if (c.reading !== null) return s.terminate();
    c.done = true;
    c.buf = null;
    const last = c.queue.at(-1);
    if (last !== undefined) last.close = true;
    else if (c.pending === null) s.end();
  }

  /** Answers `slot` (null: a new one, after the requests before it) with the refusal for `status`, then closes; nothing more is read. */
  function fail(s: Socket<Conn>, c: Conn, slot: Slot | null, status: 400 | 408 | 413): void {
    if (slot === null) c.queue.push((slot = { out: null, close: true, cont: false }));
    c.done = true;
    c.reading = null;
    c.buf = null;
    c.headAt = -1;
    c.dropped = 0; // closed with a linger (linger.ts)
    slot.cont = false;
    ready(s, c, slot, refused[status], true);
  }

  const request = (head: RequestHead, body: Uint8Array | ReadableStream<Uint8Array> | undefined): Request => requestOf(origin, head, body);
  const handlerOf = (head: RequestHead): Handler => routeOf(exact, head, opts.fetch);

  /** Starts `head`'s handler when its turn on the connection comes (order.ts: writes in request order). */
  function start(s: Socket<Conn>, c: Conn, head: RequestHead, body: Uint8Array | undefined, slot: Slot): void {
    // Methods are case-sensitive, and a Request under Bun turns one it does not know (or "get") into GET.
    if (!METHODS.has(head.method)) return ready(s, c, slot, refused404, slot.close);
    const safe = isSafe(head.method);
    const b = safe ? undefined : body; // a GET or HEAD cannot carry a body in a Request: one sent anyway was read and dropped
    if (startNow(c.order, safe)) run(s, c, head, b, slot, safe);
    else wait(c.order, safe, () => run(s, c, head, b, slot, safe));
  }

  function run(s: Socket<Conn>, c: Conn, head: RequestHead, body: Uint8Array | undefined, slot: Slot, safe: boolean): void {
    const handler = handlerOf(head);
    // A big answer waits (still admitted: later writes wait for it) until every answer before it is written:
    // a client that pipelines dumps and reads none holds one, not 128 (2.6 GB with four such connections).
    if (alone.has(handler) && (c.queue[0] !== slot || c.pending !== null)) {
      c.held.push({ slot, go: () => run(s, c, head, body, slot, safe) });
      return;
    }
    let req: Request;
    try {
      req = request(head, body);
    } catch {
      finished(c.order, safe);
      return fail(s, c, slot, 400);
    }
    if (!safe) connOf.set(req, c); // bunClientSignal is for writes
    let r: Response | Promise<Response>;
    try {
      r = handler(req);
    } catch {
      r = new Response(null, { status: 500 });
    }
    const isHead = head.method === "HEAD";
    const keepAlive10 = head.http10 && !head.close;
    const done = (res: Response): void => {
      finished(c.order, safe);
      answer(s, c, slot, res, isHead, keepAlive10);
    };
    if (r instanceof Promise) r.then(done, () => done(new Response(null, { status: 500 })));
    else done(r);
  }

  /** Serializes `res` into `slot`. `keepAlive10`: an HTTP/1.0 client that asked to keep the connection. */
  function answer(s: Socket<Conn>, c: Conn, slot: Slot, res: Response, isHead: boolean, keepAlive10: boolean): void {
    if (!(res instanceof Response)) res = new Response(null, { status: 500 });
    const pre = prebuiltOf(res);
    if (pre !== undefined) return answerPrebuilt(s, c, slot, pre, isHead, keepAlive10);
    const status = res.status;
    head = "HTTP/1.1 " + status + " " + (REASONS[status] ?? "Unknown") + "\r\n";
    res.headers.forEach(addHeader);
    let h = head;
    if (slot.close) h += "connection: close\r\n";
    else if (keepAlive10) h += "connection: keep-alive\r\n";
    if (status === 204 || status === 304 || status < 200) return ready(s, c, slot, Buffer.from(h + "\r\n", "latin1"), slot.close);
    // The body as bytes (what the Response holds; text() would decode it only for the write to encode it
    // again), the head written in front of it as Latin-1 (header values are byte strings) in one buffer.
    // No look at res.body first: it would make a ReadableStream; a null body reads as empty.
    res.bytes().then(
      (body) => {
        h += "content-length: " + body.byteLength + "\r\n\r\n";
        const out = Buffer.allocUnsafe(h.length + (isHead ? 0 : body.byteLength));
        out.write(h, 0, "latin1");
        if (!isHead) out.set(body, h.length);
        releaseBuffer(body); // read for this write alone
        ready(s, c, slot, out, slot.close);
      },
      () => {
        // A body that failed half-way: the answer cannot be made; nor can any after it on this connection.
        if (!c.closed) s.terminate();
      },
    );
  }

  /** An answer whose bytes are known (prebuilt.ts): nothing to read back from the Response. */
  function answerPrebuilt(s: Socket<Conn>, c: Conn, slot: Slot, pre: Prebuilt, isHead: boolean, keepAlive10: boolean): void {
    let h = "HTTP/1.1 " + pre.status + " " + (REASONS[pre.status] ?? "Unknown") + "\r\n" + pre.headers;
    if (slot.close) h += "connection: close\r\n";
    else if (keepAlive10) h += "connection: keep-alive\r\n";
    h += "content-length: " + pre.body.byteLength + "\r\n\r\n";
    const out = Buffer.allocUnsafe(h.length + (isHead ? 0 : pre.body.byteLength));
    out.write(h, 0, "latin1");
    if (!isHead) out.set(pre.body, h.length);
    if (pre.release === true) releaseBuffer(pre.body);
    ready(s, c, slot, out, slot.close);
  }

  /** `slot` has its answer; writes what the queue's head allows. */
  function ready(s: Socket<Conn>, c: Conn, slot: Slot, out: Uint8Array, close: boolean): void {
    slot.out = out;
    slot.close = close;
    if (c.queue[0] === slot) flush(s, c);
  }

  /** Writes the ready answers at the head of the queue, in one write; resumes reading when they have caught up. */
  function flush(s: Socket<Conn>, c: Conn): void {
    if (c.closed || c.pending !== null) return;
    let out: Uint8Array | null = null;
    let parts: Uint8Array[] | null = null;
    let end = false;
    while (c.queue.length > 0) {
      const slot = c.queue[0]!;
      let piece: Uint8Array;
      if (slot.out === null) {
        if (!slot.cont) break;
        slot.cont = false;
        piece = CONTINUE;
        if (c.reading?.slot === slot) bodyBegun(c);
      } else {
        c.queue.shift();
        piece = slot.out;
        slot.out = null;
      }
      if (out === null) out = piece;
      else (parts ??= [out]).push(piece);
      if (piece === CONTINUE) break;
      if (slot.close) {
        end = true;
        break;
      }
    }
    if (parts !== null) {
      out = Buffer.concat(parts);
      for (const p of parts) releaseBuffer(p);
    }
    if (out !== null) write(s, c, out);
    // A big answer held back (run()) starts once what was before it is written.
    const held = c.held[0];
    if (held !== undefined && c.pending === null && c.queue[0] === held.slot) {
      c.held.shift();
      held.go();
    }
    if (end) {
      c.queue.length = 0;
      c.done = true;
      if (c.pending === null) closeAfterAnswers(s, c);
    } else if (c.paused && c.pending === null && c.queue.length < MAX_IN_FLIGHT / 2) {
      c.paused = false;
      s.resume();
      const rest = c.buf;
      c.buf = null;
      if (rest !== null) consume(s, c, rest, 0);
      if (!c.closed) arm(s, c, timers); // a head the rest began has its deadline armed
    }
  }

  function write(s: Socket<Conn>, c: Conn, out: Uint8Array): void {
    arm(s, c, timers);
    const n = s.write(out);
    if (n > 0) c.wroteAt = monotonicMs();
    // Partly written (the socket's buffer is full): the rest goes out on drain.
    if (n < out.byteLength) c.pending = out.subarray(Math.max(0, n));
    // Written whole: a big answer (this server made it) is freed now, not at the next full collection.
    else releaseBuffer(out);
  }

  const listener: TCPSocketListener<Conn> = listen(opts, {
    open(s) {
      s.data = { buf: null, reading: null, queue: [], order: newOrder(), pending: null, wroteAt: 0, held: [], done: false, paused: false, ended: false, closed: false, left: null, headAt: -1, bodyAt: -1, deadlineArmed: false, blank: 0, dropped: -1 };
      s.setNoDelay(true);
      s.timeout(timers.idle);
    },
    data(s, chunk) {
      const c = s.data;
      if (c.closed || (c.done && c.reading === null)) return dropped(s, c, chunk.byteLength);
      if (late(c, timers)) return fail(s, c, c.reading?.slot ?? null, 408); // checked here, at each byte of a dripping client
      let data: Uint8Array = chunk;
      if (c.buf !== null) {
        if (c.paused) {
          // Reading paused: keep what still arrives behind the requests waiting (bounded by MAX_IN_FLIGHT's worth).
          s.timeout(timers.idle);
          c.buf = Buffer.concat([c.buf, chunk]);
          return;
        }
        data = Buffer.concat([c.buf, chunk]);
        c.buf = null;
      }
      consume(s, c, data, 0);
      if (!c.closed && c.dropped < 0) arm(s, c, timers); // after: a head this chunk began or left unfinished has its deadline armed (a refusal lingers on its own timer)
    },
    end(s) {
      const c = s.data;
      c.ended = true;
      c.left?.abort();
      if (!c.paused) lastRequest(s, c);
    },
    drain(s) {
      const c = s.data;
      if (c.pending === null || c.closed) return;
      const p = c.pending;
      c.pending = null;
      write(s, c, p);
      if (c.pending === null) {
        if (c.done && c.queue.length === 0) closeAfterAnswers(s, c);
        else flush(s, c);
      }
    },
    close(s) {
      const c = s.data;
      c.closed = true;
      c.left?.abort();
      c.queue.length = 0;
      const r = c.reading;
      c.reading = null;
      // The client left half-way through a body: the handler still sees the request, and a body that fails to read.
      if (r !== null && r.head.method !== "GET" && r.head.method !== "HEAD") {
        try {
          void Promise.resolve(handlerOf(r.head)(request(r.head, failingBody()))).catch(() => {});
        } catch {
          // nobody to answer
        }
      }
    },
    timeout(s) {
      ranOut(s, s.data, timers, () => fail(s, s.data, s.data.reading?.slot ?? null, 408));
    },
    error() {
      // The connection's own trouble (a reset): close follows.
    },
  });
  const port = listener.port;
  origin = `http://${opts.hostname.includes(":") ? `[${opts.hostname}]` : opts.hostname}:${port}`;
  return {
    port,
    stop: async () => {
      listener.stop(true);
    },
  };
}
