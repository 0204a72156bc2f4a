/**
 * The image and the pods that run it: the image's USER is numeric and is the
 * runAsUser/runAsGroup the StatefulSet and the chart set (with a user name
 * the kubelet cannot verify runAsNonRoot and refuses to start the
 * container); the pods meet the "restricted" Pod Security Standard; the
 * build context leaves node_modules, dist and .git out; the build stage
 * installs only what `bun build --compile` needs.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./support/binary.ts";
import { contextFiles, excluded, parseDockerignore } from "./support/dockerignore.ts";
import { chartValues, get, helmSet, K8S, manifestSet, type Obj, renderChart } from "./support/k8s-load.ts";

const dockerfile = readFileSync(join(K8S, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
const stages = dockerfile.split(/^FROM /m).slice(1);
const instr = (stage: string, name: string): string[] =>
  stage
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith(name + " "))
    .map((l) => l.slice(name.length + 1).trim());
const build = stages[0]!;
const runtime = stages.at(-1)!;

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string }> };

const POD_SETS: [string, Obj[]][] = [
  ["k8s/manifests", manifestSet()],
  ["the chart (default values)", helmSet()],
  ["the chart (an existing Secret, release parking-east)", renderChart(chartValues({ secret: { existingSecret: "k" } }), "parking-east")],
];
const podSpec = (set: Obj[]): Obj => get(set.find((o) => o["kind"] === "StatefulSet"), "spec.template.spec") as Obj;

describe("the user the container runs as", () => {
  const user = instr(runtime, "USER");

  test("the image's USER is numeric uid:gid, not root", () => {
    expect(user).toHaveLength(1);
    expect(user[0]).toMatch(/^[1-9]\d*:\d+$/);
  });

  for (const [label, set] of POD_SETS) {
    test(`${label}: runAsNonRoot with the image's uid and gid as numbers, not overridden per container`, () => {
      const [uid, gid] = user[0]!.split(":").map(Number);
      const spec = podSpec(set);
      const pod = spec["securityContext"] as Obj;
      expect({ runAsNonRoot: pod["runAsNonRoot"], runAsUser: pod["runAsUser"], runAsGroup: pod["runAsGroup"] }).toEqual({
        runAsNonRoot: true,
        runAsUser: uid!,
        runAsGroup: gid!,
      });
      // A volume (none today) would be writable by the group.
      expect(pod["fsGroup"]).toBe(gid!);
      for (const c of spec["containers"] as Obj[]) {
        const sc = (c["securityContext"] ?? {}) as Obj;
        for (const k of ["runAsUser", "runAsGroup"]) if (k in sc) expect(sc[k]).toBe(pod[k]);
        if ("runAsNonRoot" in sc) expect(sc["runAsNonRoot"]).toBe(true);
      }
    });

    test(`${label}: the pods meet the restricted Pod Security Standard`, () => {
      const spec = podSpec(set);
      const pod = spec["securityContext"] as Obj;
      for (const k of ["hostNetwork", "hostPID", "hostIPC"]) expect(spec[k] ?? false).toBe(false);
      for (const v of (spec["volumes"] ?? []) as Obj[]) expect(v["hostPath"]).toBeUndefined();
      for (const c of [...(spec["containers"] as Obj[]), ...((spec["initContainers"] ?? []) as Obj[])]) {
        const sc = (c["securityContext"] ?? {}) as Obj;
        const seccomp = (get(sc, "seccompProfile.type") ?? get(pod, "seccompProfile.type")) as string | undefined;
        expect({
          container: c["name"],
          privileged: sc["privileged"] ?? false,
          allowPrivilegeEscalation: sc["allowPrivilegeEscalation"],
          dropsAll: ((get(sc, "capabilities.drop") ?? []) as string[]).includes("ALL"),
          adds: ((get(sc, "capabilities.add") ?? []) as string[]).filter((x) => x !== "NET_BIND_SERVICE"),
          nonRoot: (sc["runAsNonRoot"] ?? pod["runAsNonRoot"]) === true && (sc["runAsUser"] ?? pod["runAsUser"]) !== 0,
          seccomp: seccomp === "RuntimeDefault" || seccomp === "Localhost",
        }).toEqual({ container: c["name"], privileged: false, allowPrivilegeEscalation: false, dropsAll: true, adds: [], nonRoot: true, seccomp: true });
      }
    });
  }
});

describe("the build context (.dockerignore)", () => {
  const rules = parseDockerignore(readFileSync(join(ROOT, ".dockerignore"), "utf8"));

  test("leaves out node_modules (at any depth), dist, .git and the tests", () => {
    for (const p of ["node_modules", "node_modules/hono/package.json", "cli/node_modules/x", "dist/roomy", ".git/HEAD", "tests/ship/k8s.test.ts"]) {
      expect({ p, excluded: excluded(rules, p) }).toEqual({ p, excluded: true });
    }
  });

  test("keeps everything the build stage copies, and what is left is small", () => {
    const sources = [...build.matchAll(/^COPY (.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(5);
    const { files, bytes } = contextFiles(ROOT, rules);
    for (const s of sources) {
      const kept = files.filter((f) => f === s || f.startsWith(s + "/"));
      expect({ source: s, filesKept: kept.length > 0 }).toEqual({ source: s, filesKept: true });
    }
    // Without a .dockerignore the context is node_modules (~320 MB) and dist (~105 MB) too.
    expect(files.filter((f) => /(^|\/)(node_modules|dist|\.git)\//.test(f))).toEqual([]);
    expect(bytes).toBeLessThan(5 * 1024 * 1024);
  });
});

describe("the build stage's installs", () => {
  const args: Record<string, string> = {};
  for (const a of instr(build, "ARG")) {
    const [k, v] = a.split("=") as [string, string | undefined];
    if (v !== undefined) args[k] = v;
  }
  const expand = (s: string): string => s.replace(/\$\{?(\w+)\}?/g, (m, k: string) => args[k] ?? m);
  const installs = instr(build, "RUN")
    .flatMap((r) => r.split(/&&|;/))
    .map((c) => expand(c.trim()).split(/\s+/))
    .filter((w) => w[0] === "npm" && ["install", "i", "ci", "add"].includes(w[1]!));
  // npm flags that take their value as the next word.
  const VALUE_FLAGS = new Set(["--prefix", "-C", "--cache", "--registry", "--omit", "--include", "--workspace", "-w"]);
  const named = (w: string[]): string[] => w.slice(2).filter((x, i, a) => !x.startsWith("-") && !VALUE_FLAGS.has(a[i - 1] ?? ""));

  test("no install brings in the dev dependencies: a lockfile install omits them, other installs name what they add", () => {
    expect(installs.length).toBeGreaterThan(0);
    const allowed = new Set(["bun", ...Object.keys(pkg.dependencies)]);
    for (const w of installs) {
      const pkgs = named(w);
      if (pkgs.length === 0) expect({ cmd: w.join(" "), omitsDev: w.includes("--omit=dev") }).toEqual({ cmd: w.join(" "), omitsDev: true });
      for (const p of pkgs) expect({ cmd: w.join(" "), pkg: p, allowed: allowed.has(p.replace(/(?<=.)@.*$/, "")) }).toEqual({ cmd: w.join(" "), pkg: p, allowed: true });
    }
  });

  test("bun build --compile gets what it bundles: the runtime dependencies from the lockfile, and Bun at the lockfile's version on the PATH", () => {
    // The runtime dependencies come from the copied lockfile.
    const lockInstall = installs.find((w) => named(w).length === 0);
    expect(lockInstall).toBeDefined();
    expect(build.indexOf("COPY package.json package-lock.json")).toBeGreaterThanOrEqual(0);
    expect(build.indexOf("COPY package.json package-lock.json")).toBeLessThan(build.indexOf(lockInstall!.slice(0, 3).join(" ")));
    // Bun, pinned to what development and CI use.
    const bunInstall = installs.find((w) => named(w).some((p) => p.startsWith("bun@")));
    expect(bunInstall).toBeDefined();
    const bunSpec = named(bunInstall!).find((p) => p.startsWith("bun@"))!;
    expect(bunSpec).toBe(`bun@${lock.packages["node_modules/bun"]!.version}`);
    // Installed in a prefix of its own, whose .bin is on the PATH `npm run build` sees.
    const prefix = bunInstall![bunInstall!.indexOf("--prefix") + 1];
    const path = instr(build, "ENV").join(" ");
    expect(bunInstall).toContain("--prefix");
    expect(path).toContain(`PATH=${prefix}/node_modules/.bin:`);
    expect(build).toMatch(/^RUN npm run build/m);
  });
});
