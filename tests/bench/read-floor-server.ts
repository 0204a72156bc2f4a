/**
 * Floors for the scale benchmark's who-is-in latency (scale-reads.ts), run
 * beside the loaded cluster and timed by the same client loop:
 *
 *   serve       a bare Bun.serve answering every request with a fixed list
 *               of ten names (about the size of a room's answer)
 *   owner       a raw TCP server (Bun.listen) answering each framed request
 *               with that list, written from the data callback
 *   hop PORT    a bare Bun.serve that forwards each request's query over one
 *               raw TCP connection (Bun.connect) to an `owner` on PORT and
 *               answers with its reply: the two-process hop of a forwarded
 *               who-is-in, with none of roomy's work around it
 *
 * Frames are a 4-byte big-endian length and the bytes. Each mode prints
 * "ready PORT" once listening (port 0: the system picks), and exits on
 * SIGTERM or when its parent's stdin closes.
 */
export {}; // a module: top-level await below

const LIST = new TextEncoder().encode(JSON.stringify(Array.from({ length: 10 }, (_, i) => `p${100_000 + i * 7_919}`)));
const JSON_HEADERS = { "content-type": "application/json" };

/** Splits a byte stream into length-prefixed frames. */
class Frames {
  private buf = new Uint8Array(0);
  push(chunk: Uint8Array, each: (frame: Uint8Array) => void): void {
    let b = this.buf.length === 0 ? chunk : concat(this.buf, chunk);
    let at = 0;
    while (b.length - at >= 4) {
      const n = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
      if (b.length - at - 4 < n) break;
      each(b.subarray(at + 4, at + 4 + n));
      at += 4 + n;
    }
    b = b.subarray(at);
    this.buf = b.length === 0 ? new Uint8Array(0) : b.slice();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

function ready(port: number): void {
  console.log(`ready ${port}`);
}

const mode = process.argv[2];
const REPLY = frame(LIST);

if (mode === "serve") {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(LIST, { headers: JSON_HEADERS }) });
  ready(server.port ?? 0);
} else if (mode === "owner") {
  const listener = Bun.listen<{ frames: Frames }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      binaryType: "uint8array",
      open(s) {
        s.data = { frames: new Frames() };
        s.setNoDelay(true);
      },
      data(s, chunk) {
        s.data.frames.push(chunk, () => s.write(REPLY));
      },
    },
  });
  ready(listener.port);
} else if (mode === "hop") {
  const port = Number(process.argv[3]);
  const waiting: ((body: Uint8Array<ArrayBuffer>) => void)[] = [];
  const frames = new Frames();
  const conn = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      binaryType: "uint8array",
      data(_s, chunk) {
        frames.push(chunk, (body) => waiting.shift()?.(body.slice()));
      },
      close() {
        process.exit(1);
      },
    },
  });
  conn.setNoDelay(true);
  const enc = new TextEncoder();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const q = req.url.slice(req.url.indexOf("?") + 1);
      const body = await new Promise<Uint8Array<ArrayBuffer>>((resolve) => {
        waiting.push(resolve);
        conn.write(frame(enc.encode(q)));
      });
      return new Response(body, { headers: JSON_HEADERS });
    },
  });
  ready(server.port ?? 0);
} else {
  console.error("usage: read-floor-server.ts serve | owner | hop PORT");
  process.exit(2);
}

process.on("SIGTERM", () => process.exit(0));
// The bench's stdin pipe closes when it exits, even killed: go with it.
process.stdin.on("close", () => process.exit(0));
process.stdin.resume();
