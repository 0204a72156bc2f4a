/**
 * The command line read exactly as typed. No general-purpose parser is
 * used for it: mri (under cac) turns numbers into numbers ("007" -> 7),
 * reads `-dash` as the switches d, a, s and h (help, exit 0), and drops the
 * arguments after `--` from the usage check. Here a flag is only what the
 * command declares, every other token that begins with `-` is reported (a
 * name that begins with `-` goes after `--`), and after `--` everything is a
 * positional argument.
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
  /** Positional arguments, the command name first; those after `--` included. */
  positionals: string[];
  /** Every value given per long flag name, in order; switches hold "true" (or what `--json=VALUE` said). */
  values: Map<string, string[]>;
  /** Tokens before `--` that begin with `-` and name no flag, as typed. */
  unknown: string[];
  /** Flags that take a value but were given none (last token, or followed by `--`). */
  missingValue: string[];
}

export function scanArgv(argv: readonly string[], specs: readonly OptionSpec[]): RawArgs {
  const byName = new Map<string, OptionSpec>();
  for (const s of specs) {
    byName.set(`--${s.name}`, s);
    if (s.short !== undefined) byName.set(`-${s.short}`, s);
  }
  const raw: RawArgs = { positionals: [], values: new Map(), unknown: [], missingValue: [] };
  const add = (spec: OptionSpec, v: string) => {
    const list = raw.values.get(spec.name);
    if (list === undefined) raw.values.set(spec.name, [v]);
    else list.push(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === "--") {
      raw.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!t.startsWith("-") || t === "-") {
      raw.positionals.push(t);
      continue;
    }
    // Only long flags take `=VALUE`; `-x=1` is one unknown token.
    const eq = t.startsWith("--") ? t.indexOf("=") : -1;
    const flag = eq >= 0 ? t.slice(0, eq) : t;
    const spec = byName.get(flag);
    if (spec === undefined) {
      raw.unknown.push(flag);
      continue;
    }
    if (eq >= 0) {
      add(spec, t.slice(eq + 1));
    } else if (!spec.value) {
      add(spec, "true");
    } else if (i + 1 < argv.length && argv[i + 1] !== "--") {
      // The value is the next token whatever it looks like: `--capacity -1`
      // is a bad capacity, `--cookie -x-` a cookie.
      add(spec, argv[++i]!);
    } else {
      raw.missingValue.push(flag);
    }
  }
  return raw;
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

/** Whether a switch is on (`--json`, or `--json=true`; `--json=false` is off). */
export function isOn(raw: RawArgs, name: string): boolean {
  const v = raw.values.get(name);
  return v !== undefined && v.length > 0 && v[v.length - 1] !== "false";
}
