/**
 * Closing after a refusal (a 413 for a body past the cap, a 400, a 408) on
 * the HTTP/1.1 server under Bun (serve.ts). The client may still be sending
 * what it meant to: a close at once made the kernel answer its next bytes
 * with a reset, and clients that write the whole body before they read
 * (Python's urllib and requests, among others) reported "connection reset"
 * or "broken pipe", never the refusal waiting in their receive buffer. So,
 * as nginx's lingering close: the server sends its FIN after the refusal,
 * reads and drops what still comes, and closes once the client closes its
 * side, after LINGER_S seconds, or past LINGER_BYTES.
 */
import type { Socket } from "bun";
import type { Conn } from "./conn.ts";

/** Seconds a refused client may go on sending (Bun's socket timer ticks every 4 s: 2 runs out within 4). */
export const LINGER_S = 2;
/** Bytes dropped after a refusal before the connection is cut (a loopback client sends this in ~0.2 s). */
export const LINGER_BYTES = 256 * 1024 * 1024;

/** The answers are written: close, or, after a refusal, send the FIN and linger. */
export function closeAfterAnswers(s: Socket<Conn>, c: Conn): void {
  if (c.dropped < 0) return void s.end();
  s.shutdown();
  s.timeout(LINGER_S);
}

/** Bytes that came after the last request read (refused, or closing): dropped unread, the timer not re-armed; past LINGER_BYTES after a refusal, cut. */
export function dropped(s: Socket<Conn>, c: Conn, bytes: number): void {
  if (c.dropped < 0 || c.closed) return;
  c.dropped += bytes;
  if (c.dropped > LINGER_BYTES) s.terminate();
}
