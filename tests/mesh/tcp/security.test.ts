import { afterEach, describe, expect, test } from "bun:test";
import { computeProof, makeHello, PROTOCOL_VERSION } from "../../../mesh/tcp/handshake.ts";
import { decode, encode } from "../../../mesh/wire/codec.ts";
import { encodeFrames, FrameReader } from "../../../mesh/wire/frame.ts";
import { closeAll, rawConnect, rawPeer, received, startNode, type TestNode } from "./helpers.ts";
import { waitFor, within } from "./wait.ts";

afterEach(closeAll);

/** The node still serves a good peer: a fresh node exchanges a message with it both ways. */
async function stillServes(node: TestNode): Promise<void> {
  const good = await startNode("good");
  good.t.send(node.t.local, { t: "hello-good" });
  await waitFor("node gets the good peer's message", () => received(node, "hello-good").length === 1);
  node.t.send(good.t.local, { t: "reply" });
  await waitFor("good peer gets the reply", () => received(good, "reply").length === 1);
}

function warned(node: TestNode, text: string): boolean {
  return node.logs.some((l) => l.level === "warn" && String(l.fields["reason"] ?? "").includes(text));
}

describe("tcp transport: authentication", () => {
  test("a node with the wrong cookie is refused, logged and counted; nothing it sent is delivered", async () => {
    const a = await startNode("a");
    // A long backoff so the last check cannot race its expiry on a slow machine.
    const bad = await startNode("bad", { cookie: "wrong-cookie", backoff: { baseMs: 60_000, maxMs: 60_000 } });
    expect(bad.t.send(a.t.local, { t: "sneak" })).toBe(true);
    await waitFor("auth failure counted", () => a.t.stats().authFailures >= 1);
    await waitFor("bad's dial failed", () => bad.t.stats().dialFailures >= 1);
    expect(a.t.peers()).toEqual([]);
    expect(bad.t.peers()).toEqual([]);
    expect(warned(a, "proof")).toBe(true);
    const entry = a.logs.find((l) => l.msg === "mesh: refused peer")!;
    expect(String(entry.fields["peer"])).toContain("127.0.0.1");
    await stillServes(a);
    expect(received(a, "sneak")).toEqual([]);
    // The bad node backs off rather than hammering.
    expect(bad.t.send(a.t.local, { t: "sneak" })).toBe(false);
  });

  test("a node of another cluster is refused with the reason", async () => {
    const a = await startNode("a");
    const other = await startNode("other", { cluster: "elsewhere" });
    other.t.send(a.t.local, { t: "sneak" });
    await waitFor("refused", () => a.t.stats().authFailures >= 1 && warned(a, "cluster"));
    // Both sides check the hello, so the other node logs the mismatch too.
    await waitFor("other logs why", () => warned(other, "cluster"));
    await stillServes(a);
    expect(received(a, "sneak")).toEqual([]);
  });

  test("a peer speaking another protocol version is refused", async () => {
    const a = await startNode("a");
    const raw = await rawConnect(a.t.local);
    const hello = makeHello({ cluster: "roomy", name: "future", id: "f1", address: "127.0.0.1:1" });
    raw.socket.write(encodeFrames([encode({ ...hello, v: PROTOCOL_VERSION + 1 })]));
    await within("socket closed", raw.closed);
    expect(a.t.stats().authFailures).toBe(1);
    expect(warned(a, "version")).toBe(true);
    // The refusal tells the peer why before closing.
    const frames: Record<string, unknown>[] = [];
    new FrameReader().push(Buffer.concat(raw.data), (b) => frames.push(decode(b) as Record<string, unknown>));
    expect(frames.some((f) => f["t"] === "refuse" && f["reason"] === "version")).toBe(true);
    await stillServes(a);
  });

  test("a proof from another session (replay) is refused", async () => {
    const a = await startNode("a");
    const raw = await rawConnect(a.t.local);
    const own = makeHello({ cluster: "roomy", name: "r", id: "zzzz", address: "127.0.0.1:1" });
    raw.socket.write(encodeFrames([encode(own)]));
    // A MAC valid for a different node nonce, as if recorded from an earlier session.
    const recorded = makeHello({ cluster: "roomy", name: "a", id: a.id, address: a.t.local });
    raw.socket.write(encodeFrames([encode({ t: "proof", mac: computeProof("test-cookie", "dialer", own, recorded), lost: 0 })]));
    await within("socket closed", raw.closed);
    expect(warned(a, "proof")).toBe(true);
    expect(a.t.peers()).toEqual([]);
  });

  test("handshakes beyond the limit are turned away while the others continue", async () => {
    const a = await startNode("a", { maxPendingHandshakes: 2, handshakeTimeoutMs: 60_000 });
    const r1 = await rawConnect(a.t.local);
    const r2 = await rawConnect(a.t.local);
    await waitFor("two sockets held", () => a.t.stats().socketsOpen === 2);
    const r3 = await rawConnect(a.t.local);
    await within("third turned away", r3.closed);
    expect(a.logs.some((l) => String(l.fields["reason"] ?? "").includes("busy"))).toBe(true);
    r1.socket.destroy();
    r2.socket.destroy();
    await stillServes(a);
  });

  test("a silent connection is dropped at the handshake timeout", async () => {
    const a = await startNode("a", { handshakeTimeoutMs: 200 });
    const raw = await rawConnect(a.t.local);
    await within("socket closed", raw.closed);
    expect(a.t.stats().authFailures).toBe(1);
    expect(warned(a, "timeout")).toBe(true);
    await stillServes(a);
  });
});

describe("tcp transport: hostile bytes", () => {
  test("text garbage instead of a hello is cut off and the node keeps serving", async () => {
    const a = await startNode("a");
    const raw = await rawConnect(a.t.local);
    raw.socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await within("socket closed", raw.closed);
    expect(a.t.stats().authFailures).toBe(1);
    await stillServes(a);
  });

  test("a 2 GiB length prefix is refused without buffering and the node keeps serving", async () => {
    const a = await startNode("a");
    const raw = await rawConnect(a.t.local);
    raw.socket.write(new Uint8Array([0x80, 0, 0, 0, 1, 2, 3]));
    await within("socket closed", raw.closed);
    expect(warned(a, "oversized")).toBe(true);
    await stillServes(a);
  });

  test("a frame of random bytes within the handshake is refused as malformed", async () => {
    const a = await startNode("a");
    const raw = await rawConnect(a.t.local);
    raw.socket.write(encodeFrames([new Uint8Array([0xff, 0xfe, 0x1c, 0x00])]));
    await within("socket closed", raw.closed);
    expect(warned(a, "malformed")).toBe(true);
    expect(a.t.stats().authFailures).toBe(1);
    await stillServes(a);
  });

  test("an authenticated peer sending a malformed frame loses only its own connection", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    a.t.send(b.t.local, { t: "m" });
    await waitFor("a-b up", () => received(b, "m").length === 1);
    const raw = await rawPeer(a);
    expect((await raw.verdict())["t"]).toBe("commit");
    raw.send({ t: "fine", n: 1 });
    await waitFor("raw message delivered", () => received(a, "fine").length === 1);
    expect(a.got.find((g) => g.msg.t === "fine")!.from).toBe("127.0.0.1:1");
    raw.socket.write(encodeFrames([new Uint8Array([0x82, 0x01])])); // truncated CBOR array
    await within("raw closed", raw.closed);
    expect(a.t.stats().frameErrors).toBe(1);
    expect(warned(a, "malformed")).toBe(true);
    expect(a.t.peers().map((p) => p.name)).toEqual(["b"]);
    a.t.send(b.t.local, { t: "m" });
    await waitFor("a-b still up", () => received(b, "m").length === 2);
  });

  test("an authenticated peer cut off inside a frame is logged as truncated", async () => {
    const a = await startNode("a");
    const raw = await rawPeer(a);
    expect((await raw.verdict())["t"]).toBe("commit");
    const frame = encodeFrames([encode({ t: "half", pad: "x".repeat(100) })]);
    raw.socket.end(frame.subarray(0, 50));
    await waitFor("truncation logged", () => warned(a, "truncated"));
    expect(a.t.stats().frameErrors).toBe(1);
    expect(received(a, "half")).toEqual([]);
    await stillServes(a);
  });

  test("an authenticated peer sending a frame over the limit is cut off", async () => {
    const a = await startNode("a", { maxFrameBytes: 64 * 1024 });
    const raw = await rawPeer(a);
    expect((await raw.verdict())["t"]).toBe("commit");
    raw.socket.write(new Uint8Array([0, 2, 0, 0])); // 128 KiB header, body never sent
    await within("raw closed", raw.closed);
    expect(a.t.stats().frameErrors).toBe(1);
    expect(warned(a, "oversized")).toBe(true);
  });
});
