/**
 * The order requests pipelined on one connection run in (serve.ts). Answers
 * always leave in request order (the connection's queue of slots); this is
 * about when each handler starts. RFC 9112 9.3.2 lets a server work on
 * pipelined requests in parallel only when their methods are safe: a walk
 * into A then into B must end in B, a park then an unpark must unpark, and a
 * GET sent after a write must see it. So a request with an unsafe method
 * starts only once every earlier one on its connection has finished, and
 * nothing after it starts until it has; safe ones (GET, HEAD) between writes
 * run side by side as before. A client that waits for each answer never
 * waits here.
 */

/** Per connection: handlers running now, whether one of them is a write, and what waits its turn. */
export interface Order {
  running: number;
  writing: boolean;
  waiting: Array<{ safe: boolean; run: () => void }>;
}

export function newOrder(): Order {
  return { running: 0, writing: false, waiting: [] };
}

/** Methods a Request keeps as sent (exact case); serve.ts answers any other 404 (ServeOptions.refusal) without reaching the app. */
export const METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

/** Whether `method` only reads (RFC 9110 9.2.1), so it may run beside other reads. */
export function isSafe(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

const mayStart = (o: Order, safe: boolean): boolean => (safe ? !o.writing : o.running === 0);

/** Whether a request may start now (then it counts as running: call finished() when its handler is done); else wait(). */
export function startNow(o: Order, safe: boolean): boolean {
  if (o.waiting.length > 0 || !mayStart(o, safe)) return false;
  begin(o, safe);
  return true;
}

function begin(o: Order, safe: boolean): void {
  o.running++;
  if (!safe) o.writing = true;
}

/** Runs `run` once the request's turn has come (startNow said no). */
export function wait(o: Order, safe: boolean, run: () => void): void {
  o.waiting.push({ safe, run });
}

/** A handler admitted with `safe` is done (its Response is made): the next ones whose turn it is start. */
export function finished(o: Order, safe: boolean): void {
  o.running--;
  if (!safe) o.writing = false;
  while (o.waiting.length > 0 && mayStart(o, o.waiting[0]!.safe)) {
    const w = o.waiting.shift()!;
    begin(o, w.safe);
    w.run();
  }
}
