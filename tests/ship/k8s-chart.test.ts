/**
 * The chart's NOTES.txt, printed after `helm install`, tells how to reach
 * the admin API, get the token and check the members: every name, port and
 * key it uses is one the chart renders, and its requests and CLI commands
 * work against a real node with a token. The chart refuses to render
 * without a cookie and a token (or an existing Secret).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../../cli/program.ts";
import { createApp } from "../../http/app.ts";
import { serve, type Served } from "../../adapter/serve.ts";
import { type Node, startNode } from "../../mesh/node/node.ts";
import { CHART, chartRenderer, chartValues, get, type Obj, renderChart } from "./support/k8s-load.ts";

const TOKEN = "notes-test-token";

const VARIANTS: { label: string; values: Obj; release: string; namespace: string }[] = [
  { label: "default values", values: chartValues({ secret: { cookie: "c", adminToken: "t" } }), release: "roomy", namespace: "default" },
  {
    label: "an existing Secret, another port, release and namespace",
    values: { ...chartValues({ secret: { existingSecret: "shop-roomy-keys" } }), httpPort: 8080 },
    release: "shop",
    namespace: "retail",
  },
];

function notes(v: (typeof VARIANTS)[number]): string {
  return chartRenderer(v.values, v.release, v.namespace).render(readFileSync(join(CHART, "templates", "NOTES.txt"), "utf8"));
}

/** The lines of NOTES.txt that are commands (indented), with `$ROOMY_ADMIN_TOKEN` left as written. */
const commands = (text: string): string[] => text.split("\n").filter((l) => l.startsWith("  ")).map((l) => l.trim());
const find = (cmds: string[], re: RegExp): RegExpMatchArray => {
  const m = cmds.map((c) => c.match(re)).find((x) => x !== null);
  if (m === undefined || m === null) throw new Error(`NOTES.txt has no command matching ${re}:\n${cmds.join("\n")}`);
  return m;
};

let node: Node;
let http: Served;
beforeAll(async () => {
  node = await startNode({ name: "notes-0" });
  const app = createApp(node, { adminToken: TOKEN });
  http = serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
});
afterAll(async () => {
  await http?.stop();
  await node?.stop();
});

/** Runs a `roomy ...` command line from NOTES.txt in-process, its --node URL pointed at the test's node. */
async function roomy(line: string, env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const argv = line.split(/\s+/).slice(1).map((a) => (/^http:\/\/127\.0\.0\.1:\d+$/.test(a) ? http.url : a));
  let out = "";
  let err = "";
  const code = await runCli(argv, {
    out: async (t) => void (out += t),
    err: async (t) => void (err += t),
    env,
  });
  return { code, out, err };
}

for (const v of VARIANTS) {
  describe(`NOTES.txt, rendered with ${v.label}`, () => {
    const text = notes(v);
    const cmds = commands(text);
    const set = renderChart(v.values, v.release, v.namespace);
    const sts = set.find((o) => o["kind"] === "StatefulSet")!;
    const container = (get(sts, "spec.template.spec.containers") as Obj[])[0]!;
    const httpPort = (container["ports"] as { name: string; containerPort: number }[]).find((p) => p.name === "http")!.containerPort;

    test("every kubectl command is in the release's namespace and names the rendered StatefulSet and its first pod", () => {
      const kubectl = cmds.filter((c) => c.startsWith("kubectl ") || c.includes("$(kubectl "));
      expect(kubectl.length).toBeGreaterThanOrEqual(4);
      for (const c of kubectl) expect(c).toContain(`kubectl --namespace ${v.namespace} `);
      expect(find(cmds, /rollout status statefulset\/(\S+)/)[1]).toBe(get(sts, "metadata.name") as string);
      expect(find(cmds, /exec (\S+) -- roomy /)[1]).toBe(`${get(sts, "metadata.name") as string}-0`);
    });

    test("the port-forward names the admin Service, a port it has, and that port reaches the pods' admin API", () => {
      const [, svcName, local, remote] = find(cmds, /port-forward svc\/(\S+) (\d+):(\d+)/);
      const svc = set.find((o) => o["kind"] === "Service" && get(o, "metadata.name") === svcName);
      expect(svc).toBeDefined();
      expect(get(svc, "spec.clusterIP")).not.toBe("None"); // the load-balanced one, not the headless
      const port = (get(svc, "spec.ports") as { port: number; targetPort: string }[]).find((p) => p.port === Number(remote));
      expect(port?.targetPort).toBe("http");
      // What people then open and curl is the forwarded local port.
      for (const m of text.matchAll(/http:\/\/127\.0\.0\.1:(\d+)/g)) {
        const inPod = m.input!.slice(0, m.index).split("\n").at(-1)!.includes(" exec ");
        expect(Number(m[1])).toBe(inPod ? httpPort : Number(local));
      }
    });

    test("the token comes from the Secret and key the pods' ROOMY_ADMIN_TOKEN reads", () => {
      const [, secret, key] = find(cmds, /get secret (\S+) -o jsonpath='\{\.data\.([^}]+)\}' \| base64 -d/);
      const env = get(container, "env") as { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
      const ref = env.find((e) => e.name === "ROOMY_ADMIN_TOKEN")?.valueFrom?.secretKeyRef;
      expect({ secret, key }).toEqual({ secret: ref!.name, key: ref!.key });
      expect(find(cmds, /export (\w+)=\$\(kubectl/)[1]).toBe("ROOMY_ADMIN_TOKEN");
    });

    test("its curl for the members answers with the token and is refused without it", async () => {
      const [, header, path] = find(cmds, /curl -s -H "([^"]+)" http:\/\/127\.0\.0\.1:\d+(\/\S+)/);
      const [name, value] = header!.split(/:\s*/) as [string, string];
      const ok = await fetch(http.url + path, { headers: { [name]: value.replace("$ROOMY_ADMIN_TOKEN", TOKEN) } });
      expect(ok.status).toBe(200);
      expect((await ok.json()) as { name: string; state: string }[]).toEqual([expect.objectContaining({ name: "notes-0", state: "alive" })]);
      expect((await fetch(http.url + path)).status).toBe(401);
    });

    test("its roomy members commands list the members with the token from the environment", async () => {
      const lines = cmds.map((c) => c.replace(/^.* -- (?=roomy )/, "")).filter((c) => c.startsWith("roomy "));
      expect(lines.length).toBe(2); // from this machine and inside a pod
      for (const line of lines) {
        const r = await roomy(line, { ROOMY_ADMIN_TOKEN: TOKEN });
        expect({ line, code: r.code, err: r.err }).toEqual({ line, code: 0, err: "" });
        expect(r.out).toContain("notes-0");
        expect((await roomy(line, {})).code).toBe(1); // 401 without the token
      }
    });
  });
}

describe("the chart's Secret", () => {
  test("it refuses to render without a cookie and a token, or an existing Secret", () => {
    expect(() => renderChart(chartValues())).toThrow(/secret\.cookie/);
    expect(() => renderChart(chartValues({ secret: { cookie: "c" } }))).toThrow(/secret\.adminToken/);
    const withExisting = renderChart(chartValues({ secret: { existingSecret: "mine" } }));
    expect(withExisting.filter((o) => o["kind"] === "Secret")).toEqual([]);
  });
});
