/**
 * `roomy node`'s numeric flags and their variables: a value out of range is
 * a usage error that names the flag (not the node's setting behind it) and
 * the whole range, in one style whichever end it misses.
 */
import { describe, expect, test } from "bun:test";
import { scanArgv } from "../../cli/argv.ts";
import { NODE_OPTIONS, resolveNodeFlags } from "../../cli/node-command.ts";
import { UsageError } from "../../cli/exit.ts";

function refusal(args: string[], env: Record<string, string> = {}): string {
  try {
    resolveNodeFlags(scanArgv(["node", ...args], NODE_OPTIONS), env);
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  throw new Error(`accepted: ${args.join(" ")}`);
}

describe("roomy node: numeric flags out of range", () => {
  const cases: [string[], Record<string, string>, string][] = [
    [["--voters", "16"], {}, '--voters must be a whole number from 1 to 15, got "16"'],
    [["--voters", "0"], {}, '--voters must be a whole number from 1 to 15, got "0"'],
    [["--gates", "1001"], {}, '--gates must be a whole number from 1 to 1000, got "1001"'],
    [["--gates", "0"], {}, '--gates must be a whole number from 1 to 1000, got "0"'],
    [[], { ROOMY_GATES: "abc" }, '--gates (ROOMY_GATES) must be a whole number from 1 to 1000, got "abc"'],
    [["--spaces", "-1"], {}, '--spaces must be a whole number from 0 to 1000000000, got "-1"'],
    [["--spaces", "99999999999"], {}, '--spaces must be a whole number from 0 to 1000000000, got "99999999999"'],
    [["--spaces", "1000000001"], {}, '--spaces must be a whole number from 0 to 1000000000, got "1000000001"'],
    // A value from a variable is refused naming it too (the user never typed the flag).
    [[], { ROOMY_JOIN: "nope" }, '--join (ROOMY_JOIN) must be HOST:PORT, got "nope"'],
    [[], { ROOMY_NAME: "bad\tname" }, "--name (ROOMY_NAME) must not contain control characters"],
    [["--name", "bad\tname"], {}, "--name must not contain control characters"],
  ];
  for (const [args, env, message] of cases) {
    test(`${[...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...args].join(" ")}: ${message}`, () => {
      expect(refusal(args, env)).toBe(message);
    });
  }

  test("the ends of each range are accepted", () => {
    const ok = (args: string[]) => resolveNodeFlags(scanArgv(["node", ...args], NODE_OPTIONS), {}).settings;
    expect(ok(["--voters", "15", "--gates", "1000", "--spaces", "1000000000"])).toMatchObject({ maxVoters: 15, gates: 1000, spaces: 1_000_000_000 });
    expect(ok(["--voters", "1", "--gates", "1", "--spaces", "0"])).toMatchObject({ maxVoters: 1, gates: 1, spaces: 0 });
  });
});
