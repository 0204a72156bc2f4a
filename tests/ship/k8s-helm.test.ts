/**
 * The chart through a real `helm`, where one is on the PATH: `helm lint`
 * passes, and `helm template` renders exactly the objects helm-lite (which
 * the other k8s tests use) renders. No helm binary can be had from the
 * registries this project installs from (none on npm, none in Debian), so
 * these tests are skipped, saying so, when it is absent.
 */
import { describe, expect, test } from "bun:test";
import { CHART, docs, chartValues, type Obj, renderChart } from "./support/k8s-load.ts";

const HELM = Bun.which("helm");
if (HELM === null) console.warn("tests/ship/k8s-helm.test.ts: no `helm` on the PATH; skipping helm lint / helm template (the other k8s tests render the chart with helm-lite)");

const SETS = ["secret.cookie=c0ffee", "secret.adminToken=t0ken", "httpPort=8080", "replicas=5"];

function helm(args: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync([HELM!, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

const key = (o: Obj): string => `${String(o["kind"])}/${String((o["metadata"] as Obj)["name"])}`;
const byKey = (objs: Obj[]): Record<string, Obj> => Object.fromEntries(objs.map((o) => [key(o), o]));

describe("the chart through helm", () => {
  test.skipIf(HELM === null)("helm lint passes with a cookie and a token, and fails without them", () => {
    const ok = helm(["lint", CHART, "--strict", ...SETS.flatMap((s) => ["--set", s])]);
    expect({ code: ok.code, out: ok.out + ok.err }).toEqual({ code: 0, out: expect.any(String) });
    const bare = helm(["lint", CHART]);
    expect(bare.code).not.toBe(0);
    expect(bare.out + bare.err).toContain("secret.cookie");
  });

  test.skipIf(HELM === null)("helm template renders the same objects as helm-lite", () => {
    const r = helm(["template", "parking", CHART, "--namespace", "shop", ...SETS.flatMap((s) => ["--set", s])]);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: "" });
    const values = { ...chartValues({ secret: { cookie: "c0ffee", adminToken: "t0ken" } }), httpPort: 8080, replicas: 5 };
    expect(byKey(docs(r.out))).toEqual(byKey(renderChart(values, "parking", "shop")));
  });
});
