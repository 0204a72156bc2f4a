/**
 * Every object `kubectl apply -f k8s/manifests/` would send, and every object
 * the chart renders (with the values people give it), is one the Kubernetes
 * API accepts: checked offline against its OpenAPI schemas (kubernetes-models)
 * with unknown fields refused, as strict field validation does. And no
 * manifest ships a Secret with values in it: applied as they are, well-known
 * values would become the cluster's cookie and admin token.
 */
import { describe, expect, test } from "bun:test";
import { documentedSecret, get, chartValues, manifestFiles, type Obj, renderChart } from "./support/k8s-load.ts";
import { k8sProblems } from "./support/k8s-schema.ts";

describe("the schema check itself", () => {
  const sts = (): Obj => structuredClone(manifestFiles().find((m) => m.obj["kind"] === "StatefulSet")!.obj);
  const at = (o: Obj, path: string): Obj => get(o, path) as Obj;

  test("accepts the shipped StatefulSet, and refuses it with a wrong type, a missing required field, an unknown field or a bad name", async () => {
    expect(await k8sProblems(sts())).toEqual([]);

    const wrongType = sts();
    at(wrongType, "spec.template.spec.securityContext")["runAsUser"] = "65532";
    expect(await k8sProblems(wrongType)).toEqual([expect.stringMatching(/securityContext\/runAsUser: must be integer/)]);

    const missing = sts();
    delete (get(missing, "spec.template.spec.containers") as Obj[])[0]!["name"];
    expect(await k8sProblems(missing)).toEqual([expect.stringMatching(/containers\/0: must have required property '?name'?$/)]);

    const typo = sts();
    at(typo, "spec.template.spec.securityContext")["runAsUsr"] = 65532;
    expect(await k8sProblems(typo)).toEqual(["/spec/template/spec/securityContext/runAsUsr: unknown field"]);

    const badName = sts();
    at(badName, "metadata")["name"] = "Roomy_Set";
    expect(await k8sProblems(badName)).toEqual([expect.stringMatching(/metadata\/name: .* not a DNS-1123 subdomain/)]);
  });

  test("leaves maps free-form (labels, selectors) and refuses kinds the API does not have", async () => {
    const labelled = sts();
    at(labelled, "metadata.labels")["example.com/team"] = "rooms";
    expect(await k8sProblems(labelled)).toEqual([]);
    expect(await k8sProblems({ apiVersion: "v1", kind: "Sekret", metadata: { name: "x" } })).toEqual([expect.stringMatching(/no kind "Sekret"/)]);
    expect(await k8sProblems({ apiVersion: "apps/v1beta9", kind: "StatefulSet", metadata: { name: "x" } })).toHaveLength(1);
  });
});

describe("k8s/manifests", () => {
  const files = manifestFiles();

  test("holds the StatefulSet, both Services and the PDB", () => {
    expect(files.map((m) => m.obj["kind"]).sort()).toEqual(["PodDisruptionBudget", "Service", "Service", "StatefulSet"]);
  });

  for (const { file, obj } of files) {
    test(`${file}: ${String(obj["kind"])} ${String(get(obj, "metadata.name"))} validates against the Kubernetes schemas`, async () => {
      expect(await k8sProblems(obj)).toEqual([]);
    });
  }

  test("no manifest carries a Secret with values: the README has people create their own", async () => {
    for (const { file, obj } of files) {
      if (obj["kind"] !== "Secret") continue;
      const values = { ...(obj["data"] as Obj | undefined), ...(obj["stringData"] as Obj | undefined) };
      expect({ file, literalKeys: Object.keys(values) }).toEqual({ file, literalKeys: [] });
    }
    // The README's `kubectl create secret generic` makes a valid Secret.
    expect(await k8sProblems(documentedSecret())).toEqual([]);
  });
});

const VARIANTS: { label: string; values: Obj; release?: string }[] = [
  { label: "the README's helm install (cookie and token given)", values: chartValues({ secret: { cookie: "c0ffee", adminToken: "t0ken" } }) },
  { label: "an existing Secret", values: chartValues({ secret: { existingSecret: "roomy-keys" } }) },
  {
    label: "other ports, replicas, a pinned image and a release name",
    values: {
      ...chartValues({ secret: { cookie: "c", adminToken: "t" }, image: { repository: "registry.example/roomy", tag: "0.1.0-rc1", pullPolicy: "Always" } }),
      meshPort: 7946,
      httpPort: 8080,
      replicas: 5,
      gates: 8,
      spaces: 400,
      podDisruptionBudget: { maxUnavailable: "20%" },
    },
    release: "parking-east",
  },
];

for (const v of VARIANTS) {
  describe(`the Helm chart rendered with ${v.label}`, () => {
    const objs = renderChart(v.values, v.release);

    test("renders a StatefulSet, two Services and a PDB (and a Secret only when it was given the values)", () => {
      const kinds = objs.map((o) => o["kind"]).sort();
      const secret = get(v.values, "secret.existingSecret") ? [] : ["Secret"];
      expect(kinds).toEqual(["PodDisruptionBudget", ...secret, "Service", "Service", "StatefulSet"]);
    });

    for (const obj of objs) {
      test(`${String(obj["kind"])} ${String(get(obj, "metadata.name"))} validates against the Kubernetes schemas`, async () => {
        expect(await k8sProblems(obj)).toEqual([]);
      });
    }
  });
}
