/**
 * The mesh over TLS, through `roomy node --tls-cert/--tls-key/--tls-ca`: a
 * cluster forms and replicates; a node without TLS, or with a certificate
 * from another CA, never becomes a member.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, sleep, waitFor } from "../support/cluster.ts";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
const TEST_TIMEOUT = 90_000;
let dir = "";
let cluster: Cluster | null = null;

function openssl(...args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
}

/** A CA and a certificate it signs for 127.0.0.1 (server and client use); returns the flags. */
function tlsFlags(ca: string, node: string): string[] {
  openssl("req", "-x509", ...EC, "-keyout", `${ca}.key`, "-out", `${ca}.crt`, "-days", "1", "-subj", `/CN=${ca}`);
  writeFileSync(join(dir, `${node}.ext`), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
  openssl("req", ...EC, "-keyout", `${node}.key`, "-out", `${node}.csr`, "-subj", `/CN=${node}`);
  openssl("x509", "-req", "-in", `${node}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial",
    "-out", `${node}.crt`, "-days", "1", "-extfile", `${node}.ext`);
  return ["--tls-cert", join(dir, `${node}.crt`), "--tls-key", join(dir, `${node}.key`), "--tls-ca", join(dir, `${ca}.crt`)];
}

describe.skipIf(!hasOpenssl)("mesh over TLS", () => {
  let good: string[] = [];
  let foreign: string[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "roomy-tls-cluster-"));
    good = tlsFlags("cluster-ca", "node");
    foreign = tlsFlags("other-ca", "intruder");
    cluster = await Cluster.start({ size: 2, profile: "local", args: good });
  }, TEST_TIMEOUT);
  afterAll(async () => {
    await cluster?.close();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  test("two TLS nodes form a cluster and replicate a write", async () => {
    const [a, b] = cluster!.nodes;
    await a!.client.addRooms(["vault"]);
    await a!.client.walkInto("vault", ["ada"]);
    await waitFor("the write on the other node", async () => (await b!.client.whereIs("ada")) === "vault", {
      timeoutMs: 15_000,
    });
  }, TEST_TIMEOUT);

  test("a node without TLS, or with a certificate from another CA, never becomes a member", async () => {
    const seeds = cluster!.nodes.map((p) => p.meshAddress);
    const plain = await cluster!.startStranger({ name: "plain", join: seeds, profile: "local" });
    const intruder = await cluster!.startStranger({ name: "intruder", join: seeds, profile: "local", args: foreign });
    // Give them several join rounds; membership must never list them.
    const until = Date.now() + 4_000;
    while (Date.now() < until) {
      for (const p of cluster!.nodes) {
        const names = (await p.probe.members()).map((m) => m.name);
        expect(names).not.toContain("plain");
        expect(names).not.toContain("intruder");
      }
      await sleep(250);
    }
    for (const s of [plain, intruder]) {
      expect((await s.probe.members()).map((m) => m.name)).toEqual([s.name]);
    }
  }, TEST_TIMEOUT);
});
