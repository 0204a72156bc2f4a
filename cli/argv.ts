/**
 * Flag and argument values exactly as typed. cac (through mri) turns
 * anything numeric into a number ("007" -> 7, a cookie "0123" -> 123), so cac
 * matches the command, checks usage and prints help, while the values are
 * read here from the raw argv with the same rules for what a flag consumes.
 */

export interface OptionSpec {
  /** Long name without dashes, e.g. "log-level". */
  name: string;
  /** Takes a value (`--name VALUE` or `--name=VALUE`); otherwise a switch. */
  value: boolean;
  /** Shown in help, e.g. "HOST:PORT". */
  placeholder?: string;
  description: string;
  /** Environment variable that sets it when the flag is absent. */
  env?: string;
  /** May repeat (values accumulate). */
  repeat?: boolean;
  short?: string;
}

export interface RawArgs {
  /** Positional arguments, the command name first. */
  positionals: string[];
  /** Every value given per long flag name, in order; switches hold "true". */
  values: Map<string, string[]>;
}

export function scanArgv(argv: readonly string[], specs: readonly OptionSpec[]): RawArgs {
  const byName = new Map<string, OptionSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    if (s.short !== undefined) byName.set(s.short, s);
  }
  const positionals: string[] = [];
  const values = new Map<string, string[]>();
  const add = (spec: OptionSpec, v: string) => {
    const list = values.get(spec.name);
    if (list === undefined) values.set(spec.name, [v]);
    else list.push(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!t.startsWith("-") || t === "-") {
      positionals.push(t);
      continue;
    }
    const body = t.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = byName.get(name);
    const next = argv[i + 1];
    const nextIsValue = next !== undefined && !next.startsWith("-");
    if (spec === undefined) {
      // Unknown flags are refused by cac before values are read; like mri,
      // let one consume the value that follows it.
      if (eq < 0 && nextIsValue) i++;
      continue;
    }
    if (spec.value) {
      if (eq >= 0) add(spec, body.slice(eq + 1));
      else if (nextIsValue) add(spec, argv[++i]!);
    } else if (eq >= 0) {
      add(spec, body.slice(eq + 1));
    } else if (next === "true" || next === "false") {
      // mri reads `--json false` as a value for the switch.
      add(spec, argv[++i]!);
    } else {
      add(spec, "true");
    }
  }
  return { positionals, values };
}

/** The last value of a flag, or else its environment variable (flag beats env). */
export function flagOrEnv(raw: RawArgs, spec: OptionSpec, env: Record<string, string | undefined>): string | undefined {
  const v = raw.values.get(spec.name);
  if (v !== undefined && v.length > 0) return v[v.length - 1];
  if (spec.env !== undefined) {
    const e = env[spec.env];
    if (e !== undefined && e !== "") return e;
  }
  return undefined;
}

/** Whether a switch is on. */
export function isOn(raw: RawArgs, name: string): boolean {
  const v = raw.values.get(name);
  return v !== undefined && v.length > 0 && v[v.length - 1] !== "false";
}
