/**
 * Offline validation of Kubernetes objects against the API's OpenAPI schemas,
 * with the validators `kubernetes-models` compiles from them (types, formats,
 * enums, required fields). Those validators let unknown fields through,
 * which `kubectl apply` (strict field validation, the default since 1.25)
 * rejects, and a misspelt `runAsUsr` would pass silently: so the object is
 * handed to the validator behind proxies that record which fields it reads,
 * and a field it never looked at is one the schema does not have. An object
 * the validator enumerates (a map such as labels) is free-form.
 */

interface Validatable {
  validate(): void;
}
type ModelClass = { new (data: unknown): Validatable; prototype: Validatable };

/** The kubernetes-models module path for an apiVersion and kind ("apps/v1", "StatefulSet" → apps/v1/StatefulSet). */
function modulePath(apiVersion: string, kind: string): string {
  if (!/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) {
    throw new Error(`not an apiVersion/kind: ${apiVersion} ${kind}`);
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

async function modelClass(apiVersion: string, kind: string): Promise<ModelClass | null> {
  try {
    const mod = (await import(modulePath(apiVersion, kind))) as Record<string, unknown>;
    const cls = mod[kind];
    return typeof cls === "function" ? (cls as ModelClass) : null;
  } catch {
    return null; // no such apiVersion/kind in the Kubernetes API
  }
}

interface Tracked {
  path: string;
  target: object;
  read: Set<string>;
  enumerated: boolean;
}

/** A proxy tree over `value` that records, per object, the keys read and whether it was enumerated. */
function track(value: unknown, path: string, all: Tracked[]): unknown {
  if (value === null || typeof value !== "object") return value;
  const t: Tracked = { path, target: value, read: new Set(), enumerated: false };
  all.push(t);
  const children = new Map<string, unknown>();
  return new Proxy(value, {
    get(target, key, receiver) {
      const v: unknown = Reflect.get(target, key, receiver);
      if (typeof key !== "string" || !Object.hasOwn(target, key)) return v;
      t.read.add(key);
      if (!children.has(key)) children.set(key, track(v, `${path}/${key}`, all));
      return children.get(key);
    },
    ownKeys(target) {
      t.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

/**
 * What is wrong with `obj` as a Kubernetes object: schema errors and unknown
 * fields, each as "path: message"; empty when it is valid.
 */
export async function k8sProblems(obj: Record<string, unknown>): Promise<string[]> {
  const apiVersion = String(obj["apiVersion"] ?? "");
  const kind = String(obj["kind"] ?? "");
  const cls = await modelClass(apiVersion, kind).catch(() => null);
  if (cls === null) return [`/: no kind ${JSON.stringify(kind)} in apiVersion ${JSON.stringify(apiVersion)}`];
  const problems: string[] = [];
  const all: Tracked[] = [];
  const proxied = track(obj, "", all);
  try {
    // The model's validate() checks `this`: call it on the proxy itself, not on
    // the copy its constructor would make, so the reads are seen.
    cls.prototype.validate.call(proxied as Validatable);
  } catch (e) {
    const errors = (e as { errors?: { instancePath: string; message?: string }[] }).errors;
    if (errors === undefined) problems.push(String(e));
    else for (const x of errors) problems.push(`${x.instancePath || "/"}: ${x.message ?? "invalid"}`);
  }
  problems.push(...nameProblems(obj));
  for (const t of all) {
    if (Array.isArray(t.target) || t.enumerated) continue;
    for (const key of Object.keys(t.target)) {
      // apiVersion and kind are read by the model class's type guard, not the schema.
      if (t.path === "" && (key === "apiVersion" || key === "kind")) continue;
      if (!t.read.has(key)) problems.push(`${t.path}/${key}: unknown field`);
    }
  }
  return problems;
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Name rules the API server enforces and the schemas do not express. */
function nameProblems(obj: Record<string, unknown>): string[] {
  const meta = obj["metadata"] as { name?: unknown } | undefined;
  const name = meta?.name;
  if (typeof name !== "string" || name === "") return ["/metadata/name: required"];
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) return [`/metadata/name: ${JSON.stringify(name)} is not a DNS-1123 subdomain`];
  // A Service's name is a DNS label of its own; a StatefulSet's pods carry a
  // controller-revision-hash label of the name plus 11 characters (63 at most).
  if (obj["kind"] === "Service" && (name.length > 63 || !DNS1035_LABEL.test(name))) return [`/metadata/name: ${JSON.stringify(name)} is not a DNS-1035 label`];
  if (obj["kind"] === "StatefulSet" && name.length > 52) return [`/metadata/name: ${JSON.stringify(name)} is longer than 52 characters`];
  return [];
}
