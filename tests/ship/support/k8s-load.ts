/**
 * The Kubernetes objects roomy ships, as the tests read them: the plain
 * manifests (what `kubectl apply -f k8s/manifests/` applies), the Secret the
 * README tells people to create for them, and the chart rendered by
 * helm-lite with given values.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./binary.ts";
import { HelmLite } from "./helm-lite.ts";

export type Obj = Record<string, unknown>;

export const K8S = join(ROOT, "k8s");
export const MANIFESTS = join(K8S, "manifests");
export const CHART = join(K8S, "helm", "roomy");

/** The YAML documents of one file (`---` separated; empty ones dropped). */
export function docs(text: string): Obj[] {
  return text
    .split(/^---\s*$/m)
    .map((d) => Bun.YAML.parse(d) as Obj | null)
    .filter((d): d is Obj => d !== null && typeof d === "object");
}

/** Every object under k8s/manifests, each with the file it came from. */
export function manifestFiles(): { file: string; obj: Obj }[] {
  // kubectl apply -f DIR takes .yaml, .yml and .json files.
  return readdirSync(MANIFESTS)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .flatMap((f) => docs(readFileSync(join(MANIFESTS, f), "utf8")).map((obj) => ({ file: f, obj })));
}

export function manifestSet(): Obj[] {
  return manifestFiles().map((m) => m.obj);
}

/**
 * The `kubectl create secret generic NAME --from-literal=KEY=VALUE ...`
 * command the README's Kubernetes section documents, as the Secret it
 * creates (values stand in for the `$(openssl rand -hex 32)` they are given).
 */
export function documentedSecret(): Obj {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.split(/^## Kubernetes$/m)[1]?.split(/^## /m)[0] ?? "";
  const joined = section.replace(/\\\n\s*/g, " ");
  // A value is a word or a `$(command ...)` with spaces inside.
  const cmd = joined.match(/kubectl create secret generic (\S+)((?:\s+--from-literal=[^\s=]+=(?:\$\([^)]*\)|\S+))+)/);
  if (cmd === null) throw new Error("the README's Kubernetes section shows no `kubectl create secret generic NAME --from-literal=...` command");
  const stringData: Record<string, string> = {};
  for (const m of cmd[2]!.matchAll(/--from-literal=([^\s=]+)=/g)) stringData[m[1]!] = `documented-${m[1]!}`;
  return { apiVersion: "v1", kind: "Secret", metadata: { name: cmd[1]! }, type: "Opaque", stringData };
}

/** The chart's values.yaml, with `overrides` merged in as `--set` would (one level deep). */
export function chartValues(overrides: Record<string, Obj> = {}): Obj {
  const values = Bun.YAML.parse(readFileSync(join(CHART, "values.yaml"), "utf8")) as Obj;
  for (const [k, v] of Object.entries(overrides)) values[k] = { ...(values[k] as Obj | undefined), ...v };
  return values;
}

/** A helm-lite renderer for the chart, with its helpers loaded. */
export function chartRenderer(values: Obj, release = "roomy", namespace = "default"): HelmLite {
  const helm = new HelmLite(values, release, namespace);
  helm.helpers(readFileSync(join(CHART, "templates", "_helpers.tpl"), "utf8"));
  return helm;
}

/** Every object the chart renders with these values (the templates' .yaml files; NOTES.txt is text). */
export function renderChart(values: Obj, release = "roomy", namespace = "default"): Obj[] {
  const helm = chartRenderer(values, release, namespace);
  const dir = join(CHART, "templates");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .flatMap((f) => docs(helm.render(readFileSync(join(dir, f), "utf8"))));
}

/** The chart with its default values and a cookie and token given, as the README's `helm install` does. */
export function helmSet(): Obj[] {
  return renderChart(chartValues({ secret: { cookie: "test-cookie", adminToken: "test-admin-token" } }));
}

export const get = (o: unknown, path: string): unknown =>
  path.split(".").reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Obj)[k] : undefined), o);
