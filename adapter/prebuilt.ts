/**
 * A Response whose bytes are known beforehand (the `{"ok":true}` of every
 * write). It stays a real Response (Hono, Deno.serve and tests read it as
 * usual); a server that writes bytes itself (adapter/bun/serve.ts) takes the bytes
 * from here instead of reading the Response back (its headers and body cost
 * about 3 µs a request to read).
 */
export const PREBUILT: unique symbol = Symbol.for("roomy.prebuilt");

export interface Prebuilt {
  status: number;
  /** Header lines, each "name: value\r\n", lower-case names, no content-length. */
  headers: string;
  body: Uint8Array;
  /**
   * The body's buffer is this answer's alone: a server done with it (copied
   * into its write) frees its memory at once (release.ts) instead of
   * leaving it to a full collection, which a node with a large heap may not
   * run for minutes (a dump's 10 MB stayed resident until then).
   */
  release?: boolean;
}

/** `res`, marked with its bytes (which must be what it holds). */
export function withPrebuilt(res: Response, p: Prebuilt): Response {
  (res as unknown as { [PREBUILT]?: Prebuilt })[PREBUILT] = p;
  return res;
}

export function prebuiltOf(res: Response): Prebuilt | undefined {
  return (res as unknown as { [PREBUILT]?: Prebuilt })[PREBUILT];
}
