import { describe, expect, test } from "bun:test";
import { decode, encode } from "../../../mesh/wire/codec.ts";
import {
  decodeBody,
  decodeMessage,
  encodeFrames,
  FRAME_HEADER_BYTES,
  FrameError,
  FrameReader,
} from "../../../mesh/wire/frame.ts";

function bodies(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => encode({ t: "m", i, pad: "x".repeat(i * 7) }));
}

function collect(reader: FrameReader, chunks: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of chunks) reader.push(c, (b) => out.push(Uint8Array.from(b)));
  return out;
}

function reason(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof FrameError) return err.reason;
    throw err;
  }
  return "none";
}

describe("codec", () => {
  test("round-trips messages with bytes, nested values and maps", () => {
    const msg = { t: "x", b: new Uint8Array([1, 2, 3]), n: [1, 2.5, "s", null, true], o: { k: -7 }, m: new Map([["a", 1]]) };
    const back = decode(encode(msg)) as typeof msg;
    expect(back.t).toBe("x");
    expect(Array.from(back.b)).toEqual([1, 2, 3]);
    expect(back.n).toEqual([1, 2.5, "s", null, true]);
    expect(back.o).toEqual({ k: -7 });
    expect(back.m.get("a")).toBe(1);
  });

  test("writes plain CBOR: an object is a CBOR map and bytes a bare byte string", () => {
    const bytes = encode({ t: "x", b: new Uint8Array([9]) });
    expect(bytes[0]! >> 5).toBe(5); // major type 5 = map (not a cbor-x record tag)
    // "b" then byte string of length 1 (0x41) containing 9, no tag 64 (0xd8 0x40) before it.
    const hex = Buffer.from(bytes).toString("hex");
    expect(hex).toContain("61624109");
    expect(hex).not.toContain("d840");
  });

  test("decoded byte strings do not alias the input buffer", () => {
    const input = encode({ t: "x", b: new Uint8Array([1, 2, 3]) });
    const back = decode(input) as { b: Uint8Array };
    input.fill(0);
    expect(Array.from(back.b)).toEqual([1, 2, 3]);
  });
});

describe("FrameReader", () => {
  test("yields the same bodies whatever the split points of the stream", () => {
    const bs = bodies(5);
    const stream = encodeFrames(bs);
    for (let cut = 0; cut <= stream.length; cut++) {
      const got = collect(new FrameReader(), [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(got).toEqual(bs);
    }
    // One byte at a time.
    const bytes = Array.from(stream, (b) => Uint8Array.of(b));
    expect(collect(new FrameReader(), bytes)).toEqual(bs);
  });

  test("a big body put together from several chunks is freed once its pushFrames callback returned; push() bodies are kept", () => {
    const body = new Uint8Array(200 * 1024).fill(7);
    const stream = encodeFrames([body]);
    const seen: Uint8Array[] = [];
    const r = new FrameReader(1 << 20);
    for (let at = 0; at < stream.length; at += 64 * 1024) {
      r.pushFrames(stream.subarray(at, at + 64 * 1024), (bytes, start, end) => {
        expect(end - start).toBe(body.length);
        expect(bytes[start]).toBe(7);
        expect(bytes[end - 1]).toBe(7);
        seen.push(bytes);
      });
    }
    expect(seen).toHaveLength(1);
    expect((seen[0]!.buffer as ArrayBuffer & { detached: boolean }).detached).toBe(true);
    const kept: Uint8Array[] = [];
    const p = new FrameReader(1 << 20);
    for (let at = 0; at < stream.length; at += 64 * 1024) p.push(stream.subarray(at, at + 64 * 1024), (b) => kept.push(b));
    expect(kept).toHaveLength(1);
    expect(kept[0]!.length).toBe(body.length);
    expect(kept[0]![body.length - 1]).toBe(7);
  });

  test("yields several frames from one chunk in order", () => {
    const bs = bodies(20);
    const got = collect(new FrameReader(), [encodeFrames(bs)]);
    expect(got.map((b) => (decode(b) as { i: number }).i)).toEqual(bs.map((_, i) => i));
  });

  test("rejects a length over the limit as oversized before buffering the body", () => {
    const reader = new FrameReader(1024);
    const header = new Uint8Array([0x80, 0, 0, 0]); // 2 GiB
    expect(reason(() => reader.push(header, () => {}))).toBe("oversized");
    expect(reader.buffered).toBe(0);
    const ok = new FrameReader(1024);
    const big = encodeFrames([new Uint8Array(1025).fill(1)]);
    expect(reason(() => ok.push(big.subarray(0, 4), () => {}))).toBe("oversized");
  });

  test("a stream in another protocol is named, not taken for an oversized frame (a seed given as an admin API port answers in HTTP)", () => {
    const said = (text: string): string => {
      try {
        new FrameReader(4096).push(new TextEncoder().encode(text), () => {});
      } catch (err) {
        return (err as Error).message;
      }
      return "accepted";
    };
    expect(said("HTTP/1.1 400 Bad Request\r\n")).toContain("it answered in HTTP: that address is an admin API (--http)");
    expect(said("GET /readyz HTTP/1.1\r\n")).toContain("it sent an HTTP request");
    expect(said("POST /v1/rooms HTTP/1.1\r\n")).toContain("it sent an HTTP request");
    expect(said("SSH-2.0-OpenSSH_9.2\r\n")).toContain("it speaks SSH");
    expect(said("\x16\x03\x01\x02\x00\x01")).toContain("it began a TLS handshake");
    // A plain node dialing a TLS mesh reads the server's alert (seen: "352518400 bytes exceeds the limit").
    expect(said("\x15\x03\x03\x00\x02\x02\x46")).toContain("it answered with a TLS alert: it runs the mesh with TLS");
    expect(said("\x7f\xff\xff\xff")).toContain("exceeds the limit"); // anything else: as before
  });

  test("accepts a frame of exactly the limit", () => {
    const body = new Uint8Array(1024).fill(7);
    expect(collect(new FrameReader(1024), [encodeFrames([body])])).toEqual([body]);
  });

  test("delivers the frames before an oversized one, then throws", () => {
    const good = bodies(2);
    const stream = new Uint8Array([...encodeFrames(good), 0xff, 0xff, 0xff, 0xff]);
    const got: Uint8Array[] = [];
    expect(reason(() => new FrameReader(1024).push(stream, (b) => got.push(b)))).toBe("oversized");
    expect(got.length).toBe(2);
  });

  test("rejects an empty frame as malformed", () => {
    expect(reason(() => new FrameReader().push(new Uint8Array(4), () => {}))).toBe("malformed");
  });

  test("reports a stream that ends inside a header or a body as truncated", () => {
    const stream = encodeFrames(bodies(1));
    const r1 = new FrameReader();
    r1.push(stream.subarray(0, 2), () => {});
    expect(reason(() => r1.end())).toBe("truncated");
    const r2 = new FrameReader();
    r2.push(stream.subarray(0, stream.length - 1), () => {});
    expect(r2.buffered).toBe(stream.length - 1 - FRAME_HEADER_BYTES);
    expect(reason(() => r2.end())).toBe("truncated");
    const r3 = new FrameReader();
    r3.push(stream, () => {});
    expect(reason(() => r3.end())).toBe("none");
  });

  test("holds at most one header plus one body while a frame is incomplete", () => {
    const max = 4096;
    const reader = new FrameReader(max);
    const stream = encodeFrames([new Uint8Array(max).fill(3), new Uint8Array(max).fill(4)]);
    let peak = 0;
    for (let i = 0; i < stream.length; i += 100) {
      reader.push(stream.subarray(i, i + 100), () => {});
      peak = Math.max(peak, reader.buffered);
    }
    expect(peak).toBeLessThanOrEqual(max + FRAME_HEADER_BYTES);
  });

  test("decodeBody and decodeMessage reject what is not CBOR or not a message as malformed", () => {
    expect(reason(() => decodeBody(new Uint8Array([0xff])))).toBe("malformed");
    expect(reason(() => decodeBody(new Uint8Array([0x82, 0x01])))).toBe("malformed"); // truncated array
    expect(reason(() => decodeMessage(encode([1, 2])))).toBe("malformed");
    expect(reason(() => decodeMessage(encode({ x: 1 })))).toBe("malformed");
    expect(reason(() => decodeMessage(encode({ t: 5 })))).toBe("malformed");
    expect(decodeMessage(encode({ t: "ok", v: 1 }))).toEqual({ t: "ok", v: 1 });
  });
});
