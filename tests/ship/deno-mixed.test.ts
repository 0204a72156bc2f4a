/**
 * A mixed cluster: two nodes of the compiled (Bun) binary and one started
 * with `deno run -A cli/main.ts node`. The Deno node joins, serves the same
 * API, and writes flow both ways.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { join } from "node:path";
import { BINARY, ensureBinary, ROOT } from "./support/binary.ts";
import { pageProblems } from "../dashboard/csp.ts";
import { eventually, getJson, killAll, run, type RunningNode, startNode } from "./support/procs.ts";

const DENO = join(ROOT, "node_modules", ".bin", "deno");

describe("a cluster of Bun and Deno nodes", () => {
  let bin = BINARY;
  let bun1: RunningNode;
  let bun2: RunningNode;
  let deno: RunningNode;
  const common = ["--http", "127.0.0.1:0", "--bind", "127.0.0.1:0", "--profile", "local"];

  beforeAll(async () => {
    bin = await ensureBinary();
    bun1 = await startNode([bin, "node", "--name", "bun-1", ...common]);
    const joinArgs = ["--join", bun1.mesh];
    [bun2, deno] = await Promise.all([
      startNode([bin, "node", "--name", "bun-2", ...common, ...joinArgs]),
      // Deno transpiles the TypeScript on its first start: give it time.
      startNode([DENO, "run", "-A", "--unstable-no-legacy-abort", "cli/main.ts", "node", "--name", "deno-1", ...common, ...joinArgs], {}, 90_000),
    ]);
    for (const n of [bun1, bun2, deno]) {
      await eventually(`${n.name} sees 3 alive members and is ready`, async () => {
        const ms = await getJson<{ state: string }[]>(`${n.url}/v1/cluster/members`);
        const ready = (await fetch(`${n.url}/readyz`)).status === 200;
        return ready && ms.filter((m) => m.state === "alive").length === 3 ? true : undefined;
      }, 45_000);
    }
  }, 200_000);
  afterAll(killAll);

  const cli = (node: RunningNode, ...args: string[]) => run([bin, "--node", node.url, ...args]);

  test("the Deno node runs under Deno and serves the same API", async () => {
    const metrics = await (await fetch(`${deno.url}/metrics`)).text();
    expect(metrics).toContain('runtime="deno"');
    expect(metrics).toContain('roomy_members{state="alive"} 3');
    const info = await getJson<{ name: string; ready: boolean }>(`${deno.url}/v1/node`);
    expect(info).toMatchObject({ name: "deno-1", ready: true });
    // The dashboard's script is shipped from its source text: under Deno too, and its CSP hash matches.
    const page = await fetch(`${deno.url}/`);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(pageProblems(await page.text(), page.headers.get("content-security-policy"))).toEqual([]);
  });

  test("a write on a Bun node is read on the Deno node", async () => {
    expect((await cli(bun1, "add-rooms", "kitchen", "den")).code).toBe(0);
    expect((await cli(bun2, "walk-into", "kitchen", "alan", "lucy")).code).toBe(0);
    await eventually("deno-1 sees alan in the kitchen", async () => {
      const r = await cli(deno, "where-is", "alan");
      return r.stdout === "kitchen\n" ? true : undefined;
    });
    expect(JSON.parse((await cli(deno, "dump")).stdout)).toEqual({ den: [], kitchen: ["alan", "lucy"] });
  }, 60_000);

  test("a write on the Deno node is read on the Bun nodes", async () => {
    expect((await cli(deno, "walk-into", "den", "alan")).code).toBe(0);
    expect((await cli(deno, "park", "2", "DENO 1")).code).toBe(0);
    // Deno's notice about request.signal (legacy abort) would break the log stream's one-entry-per-line form.
    expect(deno.logs()).not.toContain("legacy behavior");
    for (const n of [bun1, bun2]) {
      await eventually(`${n.name} sees the Deno node's writes`, async () => {
        const where = await cli(n, "where-is", "alan");
        const lot = JSON.parse((await cli(n, "lot", "--json")).stdout) as { vehicles: Record<string, { gate: number }> };
        return where.stdout === "den\n" && lot.vehicles["DENO 1"]?.gate === 2 ? true : undefined;
      });
    }
    expect((await cli(bun1, "who-is-in", "kitchen")).stdout).toBe("lucy\n");
  }, 60_000);

  test("a URL with raw UTF-8 (as curl sends a query) names the same person on Bun and Deno; bytes that are not UTF-8 are bad_request", async () => {
    expect((await cli(bun1, "add-rooms", "café")).code).toBe(0);
    expect((await cli(deno, "walk-into", "café", "zoë")).code).toBe(0);
    for (const n of [bun1, deno]) {
      const { port } = new URL(n.url);
      const utf8 = await rawGet(Number(port), Buffer.from("/v1/where-is?person=zoë", "utf8"));
      expect({ node: n.name, answer: utf8 }).toEqual({ node: n.name, answer: { status: 200, body: '{"room":"café"}' } });
      const latin1 = await rawGet(Number(port), Buffer.from("/v1/where-is?person=zo\u00eb", "latin1"));
      // Deno.serve refuses such a head itself, with a bare 400 (CONTRACT: as for other malformed requests).
      const body = n === deno ? "" : expect.stringContaining("bad_request");
      expect({ node: n.name, status: latin1.status, body: latin1.body }).toEqual({ node: n.name, status: 400, body });
    }
  }, 60_000);

  test("HEAD says the GET's Content-Length on Deno as on Bun, and made-up methods share one metrics series", async () => {
    for (const n of [bun1, deno]) {
      for (const path of ["/healthz", "/v1/rooms", "/"]) {
        const get = await fetch(`${n.url}${path}`);
        const length = (await get.arrayBuffer()).byteLength;
        const head = await fetch(`${n.url}${path}`, { method: "HEAD" });
        expect({ node: n.name, path, status: head.status, length: head.headers.get("content-length") }).toEqual({ node: n.name, path, status: get.status, length: String(length) });
      }
    }
    // Deno's server hands any method to the app (Bun's refuses a made-up one itself): counted as "other".
    for (let i = 0; i < 20; i++) expect((await rawGet(Number(new URL(deno.url).port), Buffer.from("/x"), `MADEUP${i}`)).status).toBe(404);
    const metrics = await (await fetch(`${deno.url}/metrics`)).text();
    expect(metrics).not.toContain("MADEUP");
    expect(metrics).toMatch(/roomy_http_requests_total\{method="other",route="unmatched",status="404"\} 20/);
  }, 60_000);

  test("the Deno node drains and exits 0 on SIGTERM, and the Bun nodes see it leave", async () => {
    expect(await deno.stop(30_000)).toBe(0);
    await eventually("bun-1 sees deno-1 gone", async () => {
      const ms = await getJson<{ name: string; state: string }[]>(`${bun1.url}/v1/cluster/members`);
      const d = ms.find((m) => m.name === "deno-1");
      return d === undefined || d.state === "left" || d.state === "dead" ? true : undefined;
    });
    // The data is still there.
    expect((await cli(bun2, "where-is", "alan")).stdout).toBe("den\n");
  }, 60_000);
});

/** A GET whose target is `target`'s bytes exactly (fetch would percent-encode them): the status and body of the answer. */
function rawGet(port: number, target: Buffer, method = "GET"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(port, "127.0.0.1", () => {
      sock.write(Buffer.concat([Buffer.from(`${method} `), target, Buffer.from(" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")]));
    });
    sock.setTimeout(10_000, () => sock.destroy(new Error("no answer within 10 s")));
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", reject);
    sock.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf("\r\n\r\n") + 4) });
    });
  });
}
