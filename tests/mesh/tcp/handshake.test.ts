import { describe, expect, test } from "bun:test";
import { backoffDelay } from "../../../mesh/tcp/backoff.ts";
import { parseAddress, formatAddress } from "../../../mesh/tcp/address.ts";
import {
  checkHello,
  computeProof,
  type Hello,
  isChooser,
  makeHello,
  parseHello,
  parseProof,
  PROTOCOL_VERSION,
  verifyProof,
} from "../../../mesh/tcp/handshake.ts";
import { decode, encode } from "../../../mesh/wire/codec.ts";
import { constantRandom } from "./helpers.ts";

const COOKIE = "secret";
const dialer = makeHello({ cluster: "roomy", name: "a", id: "id-a", address: "10.0.0.1:4370" });
const acceptor = makeHello({ cluster: "roomy", name: "b", id: "id-b", address: "10.0.0.2:4370" });

describe("handshake proof", () => {
  test("a proof made with the cookie verifies on the other side", () => {
    const fromDialer = computeProof(COOKIE, "dialer", dialer, acceptor);
    expect(verifyProof(COOKIE, "dialer", dialer, acceptor, fromDialer)).toBe(true);
    const fromAcceptor = computeProof(COOKIE, "acceptor", dialer, acceptor);
    expect(verifyProof(COOKIE, "acceptor", dialer, acceptor, fromAcceptor)).toBe(true);
  });

  test("a proof made with another cookie is rejected", () => {
    const mac = computeProof("wrong", "dialer", dialer, acceptor);
    expect(verifyProof(COOKIE, "dialer", dialer, acceptor, mac)).toBe(false);
  });

  test("a proof replayed into a session with a fresh nonce is rejected", () => {
    const old = computeProof(COOKIE, "dialer", dialer, acceptor);
    const freshAcceptor = makeHello({ cluster: "roomy", name: "b", id: "id-b", address: "10.0.0.2:4370" });
    expect(verifyProof(COOKIE, "dialer", dialer, freshAcceptor, old)).toBe(false);
    const freshDialer = makeHello({ cluster: "roomy", name: "a", id: "id-a", address: "10.0.0.1:4370" });
    expect(verifyProof(COOKIE, "dialer", freshDialer, acceptor, old)).toBe(false);
  });

  test("a proof reflected back to its sender (other role) is rejected", () => {
    const acceptorsProof = computeProof(COOKIE, "acceptor", dialer, acceptor);
    expect(verifyProof(COOKIE, "dialer", dialer, acceptor, acceptorsProof)).toBe(false);
  });

  test("the proof binds every identity field, with no ambiguity between adjacent fields", () => {
    const mac = computeProof(COOKIE, "dialer", dialer, acceptor);
    const variants: Hello[] = [
      { ...dialer, name: "ai", id: "d-a" }, // "a"+"id-a" vs "ai"+"d-a"
      { ...dialer, address: "10.0.0.9:4370" },
      { ...dialer, cluster: "other" },
      { ...dialer, nonce: Uint8Array.from(dialer.nonce, (b, i) => (i === 0 ? b ^ 1 : b)) },
    ];
    for (const v of variants) expect(verifyProof(COOKIE, "dialer", v, acceptor, mac)).toBe(false);
  });

  test("a truncated or empty MAC is rejected without throwing", () => {
    const mac = computeProof(COOKIE, "dialer", dialer, acceptor);
    expect(verifyProof(COOKIE, "dialer", dialer, acceptor, mac.subarray(0, 31))).toBe(false);
    expect(verifyProof(COOKIE, "dialer", dialer, acceptor, new Uint8Array(0))).toBe(false);
  });

  test("hellos carry a fresh 32-byte nonce each time", () => {
    const h1 = makeHello({ cluster: "c", name: "n", id: "i", address: "h:1" });
    const h2 = makeHello({ cluster: "c", name: "n", id: "i", address: "h:1" });
    expect(h1.nonce.length).toBe(32);
    expect(Buffer.from(h1.nonce).equals(Buffer.from(h2.nonce))).toBe(false);
  });
});

describe("lanes in the hello", () => {
  const controlDialer = makeHello({ cluster: "roomy", name: "a", id: "id-a", address: "10.0.0.1:4370", lane: "control" });

  test("a hello says it takes lanes, and names the lane it was dialed for; both survive the wire", () => {
    expect(dialer.lanes).toBe(true);
    expect(dialer.lane).toBeUndefined();
    expect(parseHello(decode(encode(controlDialer)))).toEqual(controlDialer);
    const older = makeHello({ cluster: "roomy", name: "o", id: "id-o", address: "h:1", lanes: false });
    expect("lanes" in older).toBe(false);
    expect(parseHello(decode(encode(older)))).toEqual(older);
  });

  test("a lane this node does not know is refused as a protocol error", () => {
    expect(parseHello({ ...controlDialer, lane: "bulk" })).toEqual({ refuse: "protocol" });
    expect(parseHello({ ...controlDialer, lane: 1 })).toEqual({ refuse: "protocol" });
  });

  test("the proofs cover the lane: one made for the data lane does not verify for the control lane", () => {
    const { lane: _, ...asData } = controlDialer;
    const mac = computeProof(COOKIE, "dialer", asData, acceptor);
    expect(verifyProof(COOKIE, "dialer", asData, acceptor, mac)).toBe(true);
    expect(verifyProof(COOKIE, "dialer", controlDialer, acceptor, mac)).toBe(false);
  });

  test("a hello without a lane proves as an older node computes (the lane adds nothing then)", () => {
    const { lanes: _, ...older } = dialer;
    expect(Buffer.from(computeProof(COOKIE, "dialer", older, acceptor)).equals(Buffer.from(computeProof(COOKIE, "dialer", dialer, acceptor)))).toBe(true);
  });
});

describe("hello checks", () => {
  test("a hello survives the wire and parses back", () => {
    const parsed = parseHello(decode(encode(dialer)));
    expect(parsed).toEqual(dialer);
  });

  test("another protocol version is refused as a version mismatch", () => {
    expect(parseHello(decode(encode({ ...dialer, v: PROTOCOL_VERSION + 1 })))).toEqual({ refuse: "version" });
    expect(parseHello(decode(encode({ t: "hello", v: 99 })))).toEqual({ refuse: "version" });
  });

  test("a malformed hello is refused as a protocol error", () => {
    expect(parseHello({ ...dialer, nonce: new Uint8Array(5) })).toEqual({ refuse: "protocol" });
    expect(parseHello({ ...dialer, name: "" })).toEqual({ refuse: "protocol" });
    expect(parseHello({ ...dialer, name: "x".repeat(10_000) })).toEqual({ refuse: "protocol" });
    expect(parseHello("GET / HTTP/1.1")).toEqual({ refuse: "protocol" });
  });

  test("another cluster, or ourselves, is refused", () => {
    expect(checkHello(dialer, { ...acceptor, cluster: "prod" })).toBe("cluster");
    expect(checkHello(dialer, { ...acceptor, id: dialer.id })).toBe("self");
    expect(checkHello(dialer, acceptor)).toBeNull();
  });

  test("a proof message needs a 32-byte MAC and a non-negative epoch", () => {
    const mac = computeProof(COOKIE, "dialer", dialer, acceptor);
    expect(parseProof({ t: "proof", mac, lost: 0 })).not.toBeNull();
    expect(parseProof({ t: "proof", mac, lost: -1 })).toBeNull();
    expect(parseProof({ t: "proof", mac: "abc", lost: 0 })).toBeNull();
  });

  test("exactly one of two nodes is the chooser", () => {
    expect(isChooser("id-a", "id-b")).toBe(true);
    expect(isChooser("id-b", "id-a")).toBe(false);
  });
});

describe("backoff", () => {
  test("doubles from the base per failure up to the cap, jittered within [d/2, d)", () => {
    const low = constantRandom(0);
    expect([1, 2, 3, 4].map((f) => backoffDelay(f, low))).toEqual([25, 50, 100, 200]);
    expect(backoffDelay(50, low)).toBe(2500);
    const high = constantRandom(0.999);
    expect(backoffDelay(1, high)).toBeLessThan(50);
    expect(backoffDelay(50, high)).toBeLessThan(5000);
    expect(backoffDelay(50, high)).toBeGreaterThan(4990);
  });
});

describe("addresses", () => {
  test("parse host:port including bracketed IPv6, and reject the rest", () => {
    expect(parseAddress("127.0.0.1:4370")).toEqual({ host: "127.0.0.1", port: 4370 });
    expect(parseAddress("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(formatAddress("::1", 5)).toBe("[::1]:5");
    for (const bad of ["nohost", "h:99999", "h:", ":1", "a:b:c"]) expect(() => parseAddress(bad)).toThrow();
  });
});
