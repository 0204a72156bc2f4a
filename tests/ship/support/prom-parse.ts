/**
 * A strict reader of the Prometheus text format, for tests: every line must
 * be a HELP, a TYPE or a sample of the family declared just before it, and
 * values must parse. What a scraper would choke on fails the test here.
 */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: string;
  help: string;
  samples: PromSample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;

export function parseProm(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  let current: PromFamily | null = null;
  if (text !== "" && !text.endsWith("\n")) throw new Error("exposition must end with a newline");
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    if (help !== null) {
      if (families.has(help[1]!)) throw new Error(`family ${help[1]} declared twice`);
      current = { name: help[1]!, type: "", help: help[2]!, samples: [] };
      families.set(current.name, current);
      continue;
    }
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type !== null) {
      if (current === null || current.name !== type[1]) throw new Error(`TYPE without HELP: ${line}`);
      current.type = type[2]!;
      continue;
    }
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    if (current === null || current.type === "") throw new Error(`sample before its family: ${line}`);
    const name = m[1]!;
    const base = current.type === "histogram" ? name.replace(/_(bucket|sum|count)$/, "") : name;
    if (base !== current.name) throw new Error(`sample ${name} inside family ${current.name}`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? "";
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const at = LABEL.lastIndex;
      const l = LABEL.exec(body);
      if (l === null || l.index !== at) throw new Error(`bad labels in ${JSON.stringify(line)}`);
      labels[l[1]!] = l[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    const raw = m[4]!;
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    if (raw !== "NaN" && Number.isNaN(value)) throw new Error(`bad value in ${JSON.stringify(line)}`);
    current.samples.push({ name, labels, value });
  }
  return families;
}

/** The value of the one sample of `family` whose labels include `labels`. */
export function value(families: Map<string, PromFamily>, family: string, labels: Record<string, string> = {}, sampleName = family): number | undefined {
  const f = families.get(family);
  if (f === undefined) return undefined;
  const hits = f.samples.filter((s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${family}${JSON.stringify(labels)} matches ${hits.length} samples`);
  return hits[0]?.value;
}
