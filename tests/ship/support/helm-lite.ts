/**
 * Just enough of Helm's template language to render roomy's chart in a test
 * (no helm binary here): `{{ }}` actions with `{{-`/`-}}` trimming, define /
 * include, if / else / end with `not`, pipelines, `.Values`, `.Release.Name`,
 * and the functions the chart uses (quote, nindent, indent, toYaml, trunc,
 * trimSuffix, required, printf, default). Anything else throws, so a chart
 * that grows past this is noticed rather than mis-rendered.
 */

type Value = unknown;
interface Scope {
  Values: Record<string, unknown>;
  Release: { Name: string; Namespace: string };
}

type Tok = { t: "text"; s: string } | { t: "act"; s: string };
type NodeT =
  | { k: "text"; s: string }
  | { k: "expr"; s: string }
  | { k: "if"; cond: string; then: NodeT[]; else: NodeT[] }
  | { k: "define"; name: string; body: NodeT[] };

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  const re = /\{\{(-?)\s*([\s\S]*?)\s*(-?)\}\}/g;
  let last = 0;
  let trimNext = false;
  for (let m = re.exec(src); m !== null; m = re.exec(src)) {
    let text = src.slice(last, m.index);
    if (trimNext) text = text.replace(/^\s+/, "");
    if (m[1] === "-") text = text.replace(/\s+$/, "");
    out.push({ t: "text", s: text });
    const action = m[2]!;
    if (!action.startsWith("/*")) out.push({ t: "act", s: action });
    trimNext = m[3] === "-";
    last = re.lastIndex;
  }
  let tail = src.slice(last);
  if (trimNext) tail = tail.replace(/^\s+/, "");
  out.push({ t: "text", s: tail });
  return out;
}

function parse(toks: Tok[]): NodeT[] {
  let i = 0;
  const block = (enders: string[]): { nodes: NodeT[]; end: string } => {
    const nodes: NodeT[] = [];
    while (i < toks.length) {
      const tk = toks[i++]!;
      if (tk.t === "text") {
        if (tk.s !== "") nodes.push({ k: "text", s: tk.s });
        continue;
      }
      const word = tk.s.split(/\s+/)[0]!;
      if (enders.includes(word)) return { nodes, end: word };
      if (word === "if") {
        const then = block(["else", "end"]);
        const els = then.end === "else" ? block(["end"]).nodes : [];
        nodes.push({ k: "if", cond: tk.s.slice(2).trim(), then: then.nodes, else: els });
      } else if (word === "define") {
        const name = JSON.parse(tk.s.slice(6).trim()) as string;
        nodes.push({ k: "define", name, body: block(["end"]).nodes });
      } else if (["range", "with", "block", "template", "tpl"].includes(word)) {
        throw new Error(`helm-lite does not support {{ ${word} }}`);
      } else {
        nodes.push({ k: "expr", s: tk.s });
      }
    }
    if (enders.length > 0) throw new Error(`unterminated block: expected ${enders.join("/")}`);
    return { nodes, end: "" };
  };
  return block([]).nodes;
}

/** Splits an expression into tokens: quoted strings, numbers, paths, words, pipes, parentheses. */
function tokens(expr: string): string[] {
  const out: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|\||\(|\)|[^\s|()]+)/y;
  for (let m = re.exec(expr); m !== null && m[1] !== undefined; m = re.exec(expr)) out.push(m[1]);
  return out;
}

export class HelmLite {
  #defines = new Map<string, NodeT[]>();
  #scope: Scope;

  constructor(values: Record<string, unknown>, release = "roomy", namespace = "default") {
    this.#scope = { Values: values, Release: { Name: release, Namespace: namespace } };
  }

  /** Registers the defines of a helpers file (_helpers.tpl). */
  helpers(src: string): void {
    for (const n of parse(lex(src))) if (n.k === "define") this.#defines.set(n.name, n.body);
  }

  render(src: string): string {
    return this.#run(parse(lex(src)));
  }

  #run(nodes: NodeT[]): string {
    let out = "";
    for (const n of nodes) {
      if (n.k === "text") out += n.s;
      else if (n.k === "expr") out += this.#str(this.#pipeline(n.s));
      else if (n.k === "if") out += this.#run(truthy(this.#pipeline(n.cond)) ? n.then : n.else);
      else this.#defines.set(n.name, n.body);
    }
    return out;
  }

  #str(v: Value): string {
    return v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  #pipeline(expr: string): Value {
    const toks = tokens(expr);
    const stages: string[][] = [[]];
    let depth = 0;
    for (const t of toks) {
      if (t === "(") depth++;
      if (t === ")") depth--;
      if (t === "|" && depth === 0) stages.push([]);
      else stages[stages.length - 1]!.push(t);
    }
    let acc: Value = undefined;
    stages.forEach((stage, i) => {
      acc = this.#command(stage, i === 0 ? [] : [acc]);
    });
    return acc;
  }

  #command(words: string[], piped: Value[]): Value {
    const args: Value[] = [];
    let fn: string | null = null;
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      if (w === "(") {
        let depth = 1;
        let j = i + 1;
        for (; j < words.length && depth > 0; j++) depth += words[j] === "(" ? 1 : words[j] === ")" ? -1 : 0;
        args.push(this.#pipeline(words.slice(i + 1, j - 1).join(" ")));
        i = j - 1;
      } else if (i === 0 && /^[a-zA-Z]\w*$/.test(w)) {
        fn = w;
      } else {
        args.push(this.#atom(w));
      }
    }
    args.push(...piped);
    if (fn === null) {
      if (args.length !== 1) throw new Error(`cannot evaluate ${words.join(" ")}`);
      return args[0];
    }
    return this.#call(fn, args);
  }

  #atom(w: string): Value {
    if (w.startsWith('"')) return JSON.parse(w) as string;
    if (/^-?\d+$/.test(w)) return Number(w);
    if (w === "true" || w === "false") return w === "true";
    if (w === ".") return this.#scope;
    if (w.startsWith(".")) {
      let v: Value = this.#scope;
      for (const part of w.slice(1).split(".")) {
        if (typeof v !== "object" || v === null) return undefined;
        v = (v as Record<string, unknown>)[part];
      }
      return v;
    }
    throw new Error(`helm-lite cannot read ${JSON.stringify(w)}`);
  }

  #call(fn: string, a: Value[]): Value {
    const s = (v: Value) => this.#str(v);
    switch (fn) {
      case "include": {
        const body = this.#defines.get(String(a[0]));
        if (body === undefined) throw new Error(`no define ${JSON.stringify(a[0])}`);
        return this.#run(body);
      }
      case "quote":
        return JSON.stringify(s(a[0]));
      case "nindent":
        return "\n" + indent(Number(a[0]), s(a[1]));
      case "indent":
        return indent(Number(a[0]), s(a[1]));
      case "toYaml":
        return Bun.YAML.stringify(a[0], null, 2).replace(/\n+$/, "");
      case "trunc":
        return s(a[1]).slice(0, Number(a[0]));
      case "trimSuffix": {
        const v = s(a[1]);
        const suf = s(a[0]);
        return suf !== "" && v.endsWith(suf) ? v.slice(0, -suf.length) : v;
      }
      case "required":
        if (!truthy(a[1])) throw new Error(`required: ${s(a[0])}`);
        return a[1];
      case "printf": {
        let k = 1;
        return s(a[0]).replace(/%[sdv]/g, () => s(a[k++]));
      }
      case "default":
        return truthy(a[1]) ? a[1] : a[0];
      case "not":
        return !truthy(a[0]);
      default:
        throw new Error(`helm-lite has no function ${fn}`);
    }
  }
}

function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

function indent(n: number, s: string): string {
  const pad = " ".repeat(n);
  return s
    .split("\n")
    .map((l) => (l === "" ? l : pad + l))
    .join("\n");
}
