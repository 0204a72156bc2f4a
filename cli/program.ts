/**
 * The `roomy` command line: cac defines the commands (matching, usage
 * checks, help), argv.ts reads the values as typed, and every outcome maps
 * to the contract's exit codes: 0 ok, 1 the node answered an error, 2 usage,
 * 3 no node answered.
 */
import { cac } from "cac";
import { RoomyError } from "../core/errors.ts";
import { createClient, DEFAULT_NODE_URL, NoNodeError } from "../http/client.ts";
import { orderedJson } from "../http/json.ts";
import { flagOrEnv, isOn, type OptionSpec, scanArgv } from "./argv.ts";
import { CLIENT_COMMANDS } from "./client-commands.ts";
import { EXIT_ERROR, EXIT_NO_NODE, EXIT_OK, EXIT_USAGE, UsageError } from "./exit.ts";
import type { CliIo } from "./io.ts";
import { NODE_ENV_ONLY, NODE_OPTIONS, runNode } from "./node-command.ts";
import { VERSION } from "./version.ts";

const NODE_URL: OptionSpec = { name: "node", value: true, placeholder: "URL", env: "ROOMY_NODE", description: `the node to talk to (default ${DEFAULT_NODE_URL})` };
/** Prefer the variable: a flag's value shows in `ps` and shell history. */
const TOKEN: OptionSpec = { name: "token", value: true, placeholder: "TOKEN", env: "ROOMY_ADMIN_TOKEN", description: "the node's admin token, sent as a bearer token" };
const JSON_FLAG: OptionSpec = { name: "json", value: false, description: "print JSON" };
const GLOBAL_OPTIONS: OptionSpec[] = [
  NODE_URL,
  JSON_FLAG,
  { name: "help", short: "h", value: false, description: "show help" },
  { name: "version", short: "v", value: false, description: "show the version" },
];

function rawName(s: OptionSpec): string {
  return `--${s.name}${s.value ? ` <${s.placeholder ?? "value"}>` : ""}`;
}

function describe(s: OptionSpec): string {
  return s.env === undefined ? s.description : `${s.description} [env ${s.env}]`;
}

/** Parses `argv` (without the program), runs the command, returns the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const allSpecs: OptionSpec[] = [...GLOBAL_OPTIONS, TOKEN, ...NODE_OPTIONS];
  let action: (() => Promise<number>) | null = null;
  const cli = cac("roomy");
  cli.option(rawName(NODE_URL), describe(NODE_URL));
  cli.option(rawName(JSON_FLAG), describe(JSON_FLAG));

  const nodeCmd = cli.command("node", "run a node (a cluster of one unless --join/--discover)");
  for (const s of NODE_OPTIONS) nodeCmd.option(rawName(s), describe(s));
  // Variables without a flag (secrets stay out of `ps`) are listed as examples.
  for (const e of NODE_ENV_ONLY) nodeCmd.example(`${e.env}=...  ${e.description}`);
  nodeCmd.action(() => {
    action = () => runNode(scanArgv(argv, allSpecs), io);
  });

  for (const def of CLIENT_COMMANDS) {
    const cmd = cli.command(def.usage, def.description);
    cmd.option(rawName(TOKEN), describe(TOKEN));
    for (const s of def.options ?? []) {
      cmd.option(rawName(s), describe(s));
      allSpecs.push(s);
    }
    if (def.example !== undefined) cmd.example(def.example);
    cmd.action(() => {
      action = async () => {
        const raw = scanArgv(argv, allSpecs);
        const url = flagOrEnv(raw, NODE_URL, io.env) ?? DEFAULT_NODE_URL;
        if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
          throw new UsageError(`--node must be an http(s) URL, got ${JSON.stringify(url)}`);
        }
        const token = flagOrEnv(raw, TOKEN, io.env)?.replace(/[\r\n]+$/, "") || undefined;
        const client = createClient(url, { token });
        await io.out(await def.run(client, raw.positionals.slice(1), raw, isOn(raw, "json")));
        return EXIT_OK;
      };
    });
  }
  cli.help();
  cli.globalCommand.versionNumber = VERSION;
  // Not cac's version(): it prints the Node-compat version for Bun's.
  cli.option("-v, --version", "show the version");

  const json = argv.includes("--json");
  try {
    cli.parse(["roomy", "roomy", ...argv], { run: false });
    if (cli.options["help"] === true) return EXIT_OK;
    if (cli.options["version"] === true && cli.matchedCommand === undefined) {
      await io.out(`roomy ${VERSION}\n`);
      return EXIT_OK;
    }
    if (cli.matchedCommand === undefined) {
      const first = cli.args[0];
      throw new UsageError(first === undefined ? "no command given" : `unknown command ${JSON.stringify(first)}`);
    }
    cli.runMatchedCommand();
    // Set by the matched command's cac action (TS cannot see that assignment).
    const run = action as (() => Promise<number>) | null;
    if (run === null) throw new UsageError("no command given");
    return await run();
  } catch (err) {
    return report(err, json, io);
  }
}

async function report(err: unknown, json: boolean, io: CliIo): Promise<number> {
  const line = (code: string, message: string) =>
    json ? orderedJson({ error: { code, message } }) + "\n" : `roomy: ${code}: ${message}\n`;
  if (err instanceof RoomyError) {
    await io.err(line(err.code, err.message));
    return EXIT_ERROR;
  }
  if (err instanceof NoNodeError) {
    await io.err(line("no_node", err.message));
    return EXIT_NO_NODE;
  }
  if (err instanceof UsageError || (err instanceof Error && err.name === "CACError")) {
    await io.err(`roomy: ${(err as Error).message}\nrun "roomy --help" for usage\n`);
    return EXIT_USAGE;
  }
  await io.err(`roomy: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT_ERROR;
}
