/** A raw HTTP/1.1 client for the server's own tests: bytes in, answers (1xx included) out, and the close seen. */
import { connect, type Socket } from "node:net";

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export class RawConn {
  private buf: Buffer = Buffer.alloc(0);
  closed = false;
  private wake: (() => void) | null = null;

  private constructor(readonly sock: Socket) {
    sock.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    sock.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
    sock.on("error", () => {});
  }

  static open(port: number): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = connect(port, "127.0.0.1", () => resolve(new RawConn(s)));
      s.once("error", reject);
    });
  }

  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve) => this.sock.write(data, () => resolve()));
  }

  /** Waits until `f` gives a value (checked on every arrival and on close), or throws at the deadline. */
  async until<T>(what: string, f: () => T | undefined, deadlineMs = 15_000): Promise<T> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const v = f();
      if (v !== undefined) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; have ${this.buf.length} bytes, closed=${this.closed}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** The next whole answer off the received bytes, if there is one (taken off them). */
  take(): Answer | undefined {
    const end = this.buf.indexOf("\r\n\r\n");
    if (end < 0) return undefined;
    const lines = this.buf.subarray(0, end).toString("latin1").split("\r\n");
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(lines[0]!)?.[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(":");
      headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
    }
    const len = status < 200 ? 0 : Number(headers["content-length"] ?? 0);
    if (this.buf.length < end + 4 + len) return undefined;
    const body = Buffer.from(this.buf.subarray(end + 4, end + 4 + len));
    this.buf = this.buf.subarray(end + 4 + len);
    return { status, headers, body };
  }

  /** Bytes received and not taken as answers. */
  get rest(): Buffer {
    return this.buf;
  }

  next(what = "an answer", deadlineMs?: number): Promise<Answer> {
    return this.until(what, () => this.take(), deadlineMs);
  }

  /** The next `n` answers, in the order they came. */
  async answers(n: number, deadlineMs?: number): Promise<Answer[]> {
    const out: Answer[] = [];
    await this.until(`${n} answers`, () => {
      for (let a = this.take(); a !== undefined; a = this.take()) out.push(a);
      return out.length >= n || this.closed ? true : undefined;
    }, deadlineMs);
    return out;
  }

  /** Resolves once the server has closed the connection. */
  closedSoon(deadlineMs?: number): Promise<true> {
    return this.until("the server to close the connection", () => (this.closed ? true : undefined), deadlineMs);
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** Pacing of a client's sends (not a wait for the server: those poll with a deadline). */
export const pace = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends `text` a byte every `everyMs` until all of it is sent or the connection closes; how many bytes went. */
export async function drip(c: RawConn, text: string, everyMs: number): Promise<number> {
  let i = 0;
  for (; i < text.length && !c.closed; i++) {
    await c.write(text[i]!);
    await pace(everyMs);
  }
  return i;
}

/** The next answer, which must be the 408 `request_timeout` of a late head or body; then the server closes the connection. */
export async function refusedLate(c: RawConn, what: string, deadlineMs: number): Promise<Answer> {
  const a = await c.next(`the 408 of a late ${what}`, deadlineMs);
  if (a.status !== 408 || a.headers.connection !== "close") throw new Error(`expected a 408 and a close, got ${a.status} (connection: ${a.headers.connection})`);
  const code = (JSON.parse(a.body.toString()) as { error: { code: string } }).error.code;
  if (code !== "request_timeout") throw new Error(`expected request_timeout, got ${code}`);
  await c.closedSoon(5_000);
  return a;
}
