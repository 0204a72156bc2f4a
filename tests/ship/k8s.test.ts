/**
 * The Kubernetes manifests, the Helm chart and the Dockerfile agree with the
 * program: every ROOMY_* variable and flag they set exists and its value is
 * accepted, ports match, probe paths answer, the image's entrypoint runs a
 * node, the discovery name is the headless Service's, and discovery through
 * DNS works against a loopback DNS server answering for that name.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { scanArgv } from "../../cli/argv.ts";
import { NODE_ENV_ONLY, NODE_OPTIONS, resolveNodeFlags } from "../../cli/node-command.ts";
import { createApp } from "../../http/app.ts";
import { parseDiscover } from "../../mesh/node/discovery.ts";
import { DEFAULT_BIND, DEFAULT_HTTP, parseHostPort } from "../../mesh/node/config.ts";
import { startNode as startInProcess } from "../../mesh/node/node.ts";
import { startDnsServer, type TestDnsServer } from "../support/dns-server.ts";
import { BINARY, ensureBinary, ROOT } from "./support/binary.ts";
import { documentedSecret, get, helmSet, K8S, manifestSet, type Obj } from "./support/k8s-load.ts";
import { eventually, getJson, killAll, type RunningNode, startNode } from "./support/procs.ts";

// ---- reading the manifests ----

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  args?: string[];
  command?: string[];
  ports: { name: string; containerPort: number }[];
  env: EnvVar[];
  readinessProbe: { httpGet: { path: string; port: string | number } };
  livenessProbe: { httpGet: { path: string; port: string | number } };
}

const KNOWN_ENV = new Set([...NODE_OPTIONS.flatMap((o) => (o.env === undefined ? [] : [o.env])), ...NODE_ENV_ONLY.map((e) => e.env)]);
/** What the downward API would give a pod. */
const FIELD_VALUES: Record<string, string> = { "metadata.name": "roomy-0", "status.podIP": "10.42.0.7", "metadata.namespace": "default" };

/** The manifests as applied, plus the Secret the README has people create first (none ships). */
const manifestsWithSecret = (): Obj[] => [...manifestSet(), documentedSecret()];

const kindOf = (set: Obj[], kind: string): Obj[] => set.filter((d) => d["kind"] === kind);
const one = (set: Obj[], kind: string): Obj => {
  const found = kindOf(set, kind);
  expect(found.length).toBe(1);
  return found[0]!;
};

/** The container's environment as the kubelet would expand it: fieldRefs, secrets and $(VAR) references resolved. */
function expandEnv(c: Container, set: Obj[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env) {
    let v: string;
    if (e.value !== undefined) {
      v = String(e.value).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, name: string) => {
        // Kubernetes expands only variables defined earlier in the list.
        if (!(name in env)) throw new Error(`${e.name} refers to $(${name}), not defined before it`);
        return env[name]!;
      });
    } else if (e.valueFrom?.fieldRef !== undefined) {
      v = FIELD_VALUES[e.valueFrom.fieldRef.fieldPath] ?? "";
      expect(v).not.toBe("");
    } else if (e.valueFrom?.secretKeyRef !== undefined) {
      const ref = e.valueFrom.secretKeyRef;
      const secret = kindOf(set, "Secret").find((s) => get(s, "metadata.name") === ref.name);
      expect(secret).toBeDefined();
      v = String(get(secret, `stringData.${ref.key}`) ?? "");
      expect({ env: e.name, secretKeyHasValue: v !== "" }).toEqual({ env: e.name, secretKeyHasValue: true });
    } else {
      throw new Error(`env ${e.name} has neither value nor valueFrom`);
    }
    env[e.name] = v;
  }
  return env;
}

function portOf(hostPort: string): number {
  const hp = parseHostPort(hostPort);
  expect(hp).not.toBeNull();
  return hp!.port;
}

// ---- the checks, for the plain manifests and for the chart ----

for (const [label, load] of [
  ["k8s/manifests (with the Secret the README creates)", manifestsWithSecret],
  ["the Helm chart (rendered with its default values)", helmSet],
] as const) {
  describe(label, () => {
    const set = load();
    const sts = one(set, "StatefulSet");
    const containers = get(sts, "spec.template.spec.containers") as Container[];
    const c = containers.find((x) => x.name === "roomy")!;
    const env = expandEnv(c, set);
    const headless = kindOf(set, "Service").find((s) => get(s, "spec.clusterIP") === "None")!;
    const admin = kindOf(set, "Service").find((s) => get(s, "spec.clusterIP") !== "None")!;

    test("every ROOMY_* variable the container sets is one roomy node reads", () => {
      const used = c.env.map((e) => e.name).filter((n) => n.startsWith("ROOMY_"));
      expect(used.length).toBeGreaterThan(5);
      for (const n of used) expect({ env: n, known: KNOWN_ENV.has(n) }).toEqual({ env: n, known: true });
    });

    test("the container's args are a roomy command with known flags, and its settings are accepted as a whole", () => {
      expect(c.command).toBeUndefined(); // the image's ENTRYPOINT runs roomy
      const args = c.args ?? [];
      expect(args[0]).toBe("node");
      const flags = new Set(NODE_OPTIONS.map((o) => `--${o.name}`));
      for (const a of args.slice(1).filter((x) => x.startsWith("--"))) expect(flags.has(a.split("=")[0]!)).toBe(true);
      const resolved = resolveNodeFlags(scanArgv(args, NODE_OPTIONS), env);
      expect(resolved.settings.name).toBe("roomy-0");
      expect(resolved.settings.advertise).toBe("10.42.0.7:4370");
      expect(resolved.adminToken).toBeDefined(); // the API listens beyond loopback: the token is set
      expect(resolved.settings.cookie).toBeDefined(); // and so is the mesh cookie
      expect(resolved.logFormat).toBe("json");
    });

    test("container ports match the mesh and admin addresses and the program's default ports", () => {
      const port = (name: string) => c.ports.find((p) => p.name === name)?.containerPort;
      expect(port("mesh")).toBe(portOf(env["ROOMY_BIND"]!));
      expect(port("http")).toBe(portOf(env["ROOMY_HTTP"]!));
      expect(port("mesh")).toBe(portOf(DEFAULT_BIND));
      expect(port("http")).toBe(portOf(DEFAULT_HTTP));
      expect(portOf(env["ROOMY_ADVERTISE"]!)).toBe(port("mesh")!);
    });

    test("services point at named container ports and select the pods; the PDB selects them too", () => {
      const podLabels = get(sts, "spec.template.metadata.labels") as Record<string, string>;
      const names = new Set(c.ports.map((p) => p.name));
      for (const svc of [headless, admin]) {
        for (const p of get(svc, "spec.ports") as { port: number; targetPort: string }[]) expect(names.has(p.targetPort)).toBe(true);
        expect(podLabels).toMatchObject(get(svc, "spec.selector") as Obj);
      }
      expect((get(headless, "spec.ports") as { targetPort: string }[])[0]!.targetPort).toBe("mesh");
      expect((get(admin, "spec.ports") as { targetPort: string }[])[0]!.targetPort).toBe("http");
      expect(get(headless, "spec.publishNotReadyAddresses")).toBe(true);
      const pdb = one(set, "PodDisruptionBudget");
      expect(podLabels).toMatchObject(get(pdb, "spec.selector.matchLabels") as Obj);
      expect(get(sts, "spec.selector.matchLabels")).toEqual(get(pdb, "spec.selector.matchLabels"));
    });

    test("the discovery value parses and names the headless Service the StatefulSet uses, on the mesh port", () => {
      const target = parseDiscover(env["ROOMY_DISCOVER"]!, portOf(env["ROOMY_BIND"]!));
      const svcName = get(headless, "metadata.name") as string;
      expect(target.host).toBe(`${svcName}.default.svc.cluster.local`);
      expect(get(sts, "spec.serviceName")).toBe(svcName);
      expect(target.port).toBe((get(headless, "spec.ports") as { port: number }[])[0]!.port);
    });

    test("probes use /readyz for readiness and /healthz for liveness on the admin port, and drain time is allowed", () => {
      expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
      expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
      expect(get(sts, "spec.template.spec.terminationGracePeriodSeconds") as number).toBeGreaterThanOrEqual(15);
    });
  });
}

describe("the probe paths", () => {
  test("/readyz and /healthz answer 200 on a started node, without the token even when one is set", async () => {
    const node = await startInProcess({ name: "probe-1" });
    try {
      const app = createApp(node, { adminToken: "some-token" });
      for (const path of ["/readyz", "/healthz"]) expect({ path, status: (await app.request(path)).status }).toEqual({ path, status: 200 });
      await node.stop();
      expect((await app.request("/readyz")).status).toBe(503); // draining: out of the Service
    } finally {
      await node.stop();
    }
  });
});

describe("k8s/Dockerfile", () => {
  const text = readFileSync(join(K8S, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
  const stages = text.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1)!;
  const lines = runtime.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  const instr = (name: string) => lines.filter((l) => l.startsWith(name + " ")).map((l) => l.slice(name.length + 1).trim());

  test("the runtime stage holds only the binary, runs as non-root, and roomy is PID 1 (exec form)", () => {
    const copies = instr("COPY");
    expect(copies).toHaveLength(1);
    const dest = copies[0]!.split(/\s+/).at(-1)!;
    expect(JSON.parse(instr("ENTRYPOINT")[0]!)).toEqual([dest]);
    expect(JSON.parse(instr("CMD")[0]!)).toEqual(["node"]);
    // Numeric, so the kubelet can check runAsNonRoot (k8s-image.test.ts: it matches the pods' runAsUser).
    expect(instr("USER")[0]).toMatch(/^\d+:\d+$/);
    expect(instr("USER")[0]).not.toMatch(/^0(:|$)/);
  });

  test("its ENV names exist, EXPOSE matches their ports, and without the secrets the container refuses to start", () => {
    const env: Record<string, string> = {};
    for (const e of instr("ENV")) for (const m of e.matchAll(/([A-Z_]+)=(\S+)/g)) env[m[1]!] = m[2]!;
    for (const n of Object.keys(env)) expect({ env: n, known: KNOWN_ENV.has(n) }).toEqual({ env: n, known: true });
    expect(instr("EXPOSE")[0]!.split(/\s+/).map(Number).sort()).toEqual([portOf(env["ROOMY_BIND"]!), portOf(env["ROOMY_HTTP"]!)].sort());
    const cmd = JSON.parse(instr("CMD")[0]!) as string[];
    // The image serves beyond loopback: with no ROOMY_ADMIN_TOKEN it must not start.
    expect(() => resolveNodeFlags(scanArgv(cmd, NODE_OPTIONS), env)).toThrow(/ROOMY_ADMIN_TOKEN/);
    const ok = resolveNodeFlags(scanArgv(cmd, NODE_OPTIONS), { ...env, ROOMY_ADMIN_TOKEN: "t", ROOMY_COOKIE: "c" });
    expect(ok.logFormat).toBe("json");
  });

  test("the build stage copies every source the binary is built from", () => {
    const build = stages[0]!;
    const copied = [...build.matchAll(/^COPY (.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
    // Every file reachable from cli/main.ts by relative imports lies under what is copied.
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = readFileSync(file, "utf8");
      for (const m of src.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
        const target = resolve(dirname(file), m[1]!);
        if (target.endsWith(".ts")) visit(target);
        else seen.add(target);
      }
    };
    visit(join(ROOT, "cli", "main.ts"));
    for (const f of seen) {
      const rel = relative(ROOT, f);
      const top = rel.split("/")[0]!;
      expect({ file: rel, copied: copied.includes(top) || copied.includes(rel) }).toEqual({ file: rel, copied: true });
    }
  });
});

describe("discovery through DNS for the headless service", () => {
  let dns: TestDnsServer;
  let bin = BINARY;
  const nodes: RunningNode[] = [];
  afterAll(async () => {
    killAll();
    await dns?.close();
  });
  beforeAll(async () => {
    bin = await ensureBinary();
  }, 200_000);

  test("two nodes given the manifest's dns: name find each other through a DNS server answering for it", async () => {
    const set = manifestsWithSecret();
    const sts = one(set, "StatefulSet");
    const c = (get(sts, "spec.template.spec.containers") as Container[])[0]!;
    const host = parseDiscover(expandEnv(c, set)["ROOMY_DISCOVER"]!, 4370).host;
    // Two "pods" on one machine: two loopback addresses, one port, as in a cluster.
    const probe = Bun.listen({ hostname: "127.0.0.2", port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    dns = await startDnsServer({ [host]: ["127.0.0.2", "127.0.0.3"] });
    const common = ["--http", "127.0.0.1:0", "--profile", "local", "--discover", `dns:${host}:${port}`];
    const env = { ROOMY_DNS_SERVER: dns.address };
    nodes.push(
      ...(await Promise.all([
        startNode([bin, "node", "--name", "roomy-0", "--bind", `127.0.0.2:${port}`, ...common], env),
        startNode([bin, "node", "--name", "roomy-1", "--bind", `127.0.0.3:${port}`, ...common], env),
      ])),
    );
    for (const n of nodes) {
      await eventually(`${n.name} sees both pods alive`, async () => {
        const ms = await getJson<{ name: string; state: string }[]>(`${n.url}/v1/cluster/members`);
        return ms.filter((m) => m.state === "alive").map((m) => m.name).join(",") === "roomy-0,roomy-1" ? true : undefined;
      }, 30_000);
    }
    expect(dns.queries()).toBeGreaterThan(0);
    for (const n of nodes) expect(await n.stop()).toBe(0);
  }, 90_000);
});
