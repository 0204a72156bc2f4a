/** What our HTTP/1.1 server under Bun keeps per connection (serve.ts). */
import type { BodyReader, RequestHead } from "./parse.ts";
import type { Order } from "./order.ts";

/** One answer to come, in request order. */
export interface Slot {
  /** The bytes of the answer once ready, null until then. */
  out: Uint8Array | null;
  /** Close the connection after this answer. */
  close: boolean;
  /** Owes a 100 Continue before its answer (written once it reaches the head of the queue). */
  cont: boolean;
}

export interface Conn {
  /** Received bytes not consumed yet (a partial head or chunk-size line, or requests waiting while reading is paused). */
  buf: Uint8Array | null;
  /** The request whose body is arriving. */
  reading: { head: RequestHead; body: BodyReader; slot: Slot } | null;
  queue: Slot[];
  /** When pipelined handlers may start (order.ts). */
  order: Order;
  /** Bytes a write left unwritten, written on drain. */
  pending: Uint8Array | null;
  /** When the socket last took bytes of an answer (monotonic ms; deadline.ts WRITE_STALL_S). */
  wroteAt: number;
  /** Requests of big-answer routes (ExactRoute.alone), admitted, waiting until every answer before them is written; oldest first. */
  held: Array<{ slot: Slot; go: () => void }>;
  /** No more requests are read (an error answered, or Connection: close; the body of that one still is). */
  done: boolean;
  paused: boolean;
  /** The client has half-closed: nothing more will come. */
  ended: boolean;
  closed: boolean;
  /** Aborted when the client closes the connection or its sending side (made on first use: clientSignal). */
  left: AbortController | null;
  /** When the first byte of the head under way arrived (monotonic ms; -1: none under way, or reading paused). deadline.ts */
  headAt: number;
  /** When the body under way (`reading`) began: its head's end, or the 100 Continue it waited for (monotonic ms; -1: not yet). deadline.ts */
  bodyAt: number;
  /** The socket's timer is armed for a head's or body's deadline, not the idle timeout. */
  deadlineArmed: boolean;
  /** Empty lines skipped since the last head (a few are allowed before the head's clock starts). */
  blank: number;
  /** Bytes dropped since a refusal (-1: none refused; linger.ts). */
  dropped: number;
}

/** Each write request's connection, for bunClientSignal(). */
export const connOf = new WeakMap<Request, Conn>();

/**
 * A signal that aborts once the client of `req` (a write this server made)
 * closes its connection or its sending side: nobody will read an answer (a
 * client that half-closes and still reads is rare; the stall guard asks
 * only after a stall). Undefined for a request this server did not make.
 */
export function bunClientSignal(req: Request): AbortSignal | undefined {
  const c = connOf.get(req);
  if (c === undefined) return undefined;
  c.left ??= new AbortController();
  if (c.ended || c.closed) c.left.abort();
  return c.left.signal;
}
