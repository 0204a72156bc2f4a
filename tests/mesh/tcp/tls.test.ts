import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TcpTlsOptions } from "../../../mesh/tcp/transport.ts";
import { closeAll, received, startNode } from "./helpers.ts";
import { waitFor } from "./wait.ts";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
let dir = "";

function openssl(...args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function makeCa(name: string): void {
  openssl("req", "-x509", ...EC, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "1", "-subj", `/CN=${name}`);
}

/** A node certificate for 127.0.0.1 signed by `ca`, usable as server and client. */
function makeCert(name: string, ca: string): TcpTlsOptions {
  writeFileSync(join(dir, `${name}.ext`), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
  openssl("req", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
  openssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial",
    "-out", `${name}.crt`, "-days", "1", "-extfile", `${name}.ext`);
  const read = (f: string) => readFileSync(join(dir, f), "utf8");
  return { cert: read(`${name}.crt`), key: read(`${name}.key`), ca: read(`${ca}.crt`) };
}

let n1: TcpTlsOptions;
let n2: TcpTlsOptions;
let rogue: TcpTlsOptions;

beforeAll(() => {
  if (!hasOpenssl) return;
  dir = mkdtempSync(join(tmpdir(), "roomy-tls-"));
  makeCa("ca");
  makeCa("otherca");
  n1 = makeCert("node1", "ca");
  n2 = makeCert("node2", "ca");
  // Signed by another CA, but trusting ours: only our side's check can stop it.
  rogue = { ...makeCert("rogue", "otherca"), ca: n1.ca! };
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(closeAll);

describe.skipIf(!hasOpenssl)("tcp transport over mutual TLS", () => {
  test("two nodes with certificates from the cluster CA exchange messages", async () => {
    const a = await startNode("a", { tls: n1 });
    const b = await startNode("b", { tls: n2 });
    b.t.onMessage((from, msg) => {
      b.got.push({ from, msg });
      b.t.send(from, { t: "pong", n: msg["n"] });
    });
    for (let i = 0; i < 20; i++) a.t.send(b.t.local, { t: "ping", n: i });
    await waitFor("pongs", () => received(a, "pong").length === 20);
    expect(received(a, "pong").map((m) => m["n"])).toEqual([...Array(20).keys()]);
    expect(a.t.peers().map((p) => p.name)).toEqual(["b"]);
  });

  test("the cookie handshake still runs inside TLS", async () => {
    const a = await startNode("a", { tls: n1 });
    const b = await startNode("b", { tls: n2, cookie: "wrong" });
    b.t.send(a.t.local, { t: "sneak" });
    await waitFor("proof refused", () => a.t.stats().authFailures >= 1);
    expect(a.logs.some((l) => String(l.fields["reason"] ?? "").includes("proof"))).toBe(true);
    expect(received(a, "sneak")).toEqual([]);
  });

  test("a node whose certificate comes from another CA is refused both ways", async () => {
    const a = await startNode("a", { tls: n1 });
    const bad = await startNode("bad", { tls: rogue });
    bad.t.send(a.t.local, { t: "sneak" });
    await waitFor("a refuses the client certificate", () => a.t.stats().authFailures >= 1);
    await waitFor("bad's dial failed", () => bad.t.stats().dialFailures >= 1);
    a.t.send(bad.t.local, { t: "sneak" });
    await waitFor("a's dial to bad failed", () => a.t.stats().dialFailures >= 1);
    expect(a.t.peers()).toEqual([]);
    expect(bad.t.peers()).toEqual([]);
    expect(received(a, "sneak")).toEqual([]);
    expect(received(bad, "sneak")).toEqual([]);
    // a still serves a good peer.
    const b = await startNode("b", { tls: n2 });
    b.t.send(a.t.local, { t: "ok" });
    await waitFor("good peer served", () => received(a, "ok").length === 1);
  });

  test("a plain TCP node cannot talk to a TLS node", async () => {
    const a = await startNode("a", { tls: n1 });
    const plain = await startNode("plain");
    plain.t.send(a.t.local, { t: "sneak" });
    await waitFor("plain dial failed", () => plain.t.stats().dialFailures >= 1);
    expect(received(a, "sneak")).toEqual([]);
    expect(a.t.peers()).toEqual([]);
  });
});
