/**
 * The `roomy` command line. argv.ts reads the tokens as typed; this file
 * checks them against the command (flags it takes, how many arguments),
 * runs it, and maps every outcome to an exit code (CONTRACT.md, "Exit
 * codes"): 0 ok, 1 the node answered an error, 2 usage, 3 no node answered,
 * 4 the node could not start, 5 the output could not be written. cac holds the command definitions and lays
 * out their help; it parses nothing (see argv.ts for why).
 */
import { type Command, cac } from "cac";
import { RoomyError } from "../core/errors.ts";
import { createClient, DEFAULT_NODE_URL, NoNodeError } from "../http/client.ts";
import { orderedJson } from "../http/json.ts";
import { flagOrEnv, isOn, type OptionSpec, type RawArgs, scanArgv } from "./argv.ts";
import { CLIENT_COMMANDS } from "./client-commands.ts";
import { CannotStartError, EXIT_CANNOT_START, EXIT_ERROR, EXIT_NO_NODE, EXIT_OK, EXIT_OUTPUT, EXIT_USAGE, OutputError, UsageError } from "./exit.ts";
import type { CliIo } from "./io.ts";
import { adminToken, NODE_ENV_ONLY, NODE_OPTIONS, runNode } from "./node-command.ts";
import { VERSION } from "../core/version.ts";

const NODE_URL: OptionSpec = { name: "node", value: true, placeholder: "URL", env: "ROOMY_NODE", description: `the node to talk to (default ${DEFAULT_NODE_URL})` };
/** Prefer the variable: a flag's value shows in `ps` and shell history. */
const TOKEN: OptionSpec = { name: "token", value: true, placeholder: "TOKEN", env: "ROOMY_ADMIN_TOKEN", description: "the node's admin token, sent as a bearer token" };
const JSON_FLAG: OptionSpec = { name: "json", value: false, description: "print JSON" };
const HELP: OptionSpec = { name: "help", short: "h", value: false, description: "show this help" };
const VERSION_FLAG: OptionSpec = { name: "version", short: "v", value: false, description: "show the version" };
/** Taken by every command, and without one. */
const GLOBAL_OPTIONS = [HELP, VERSION_FLAG];
/** Taken by every client command. */
const CLIENT_OPTIONS = [NODE_URL, JSON_FLAG, TOKEN];

interface CommandDef {
  /** cac's command, for its name, arguments and help. */
  cac: Command;
  /** Flags it takes besides the global ones. */
  options: OptionSpec[];
  run(raw: RawArgs, args: string[], io: CliIo): Promise<number>;
}

const EXIT_CODES_HELP = "  0 ok, 1 the node answered an error, 2 usage error, 3 no node answered, 4 the node could not start, 5 the output could not be written";
const DASH_HELP = '  after "--" every argument is a name, even one that begins with "-":\n  roomy walk-into kitchen -- -dash';

function rawName(s: OptionSpec): string {
  const long = `--${s.name}${s.value ? ` <${s.placeholder ?? "value"}>` : ""}`;
  return s.short === undefined ? long : `-${s.short}, ${long}`;
}

function describe(s: OptionSpec): string {
  return s.env === undefined ? s.description : `${s.description} [env ${s.env}]`;
}

/** The commands, defined once per run (cac keeps state on its instance). */
function define() {
  const cli = cac("roomy");
  cli.globalCommand.versionNumber = VERSION;
  for (const s of GLOBAL_OPTIONS) cli.option(rawName(s), describe(s));
  const commands = new Map<string, CommandDef>();

  const nodeCmd = cli.command("node", "run a node (a cluster of one unless --join/--discover)");
  for (const s of NODE_OPTIONS) nodeCmd.option(rawName(s), describe(s));
  commands.set("node", { cac: nodeCmd, options: NODE_OPTIONS, run: (raw, _args, io) => runNode(raw, io) });

  for (const def of CLIENT_COMMANDS) {
    const cmd = cli.command(def.usage, def.description);
    const options = [...CLIENT_OPTIONS, ...(def.options ?? [])];
    for (const s of options) cmd.option(rawName(s), describe(s));
    if (def.example !== undefined) cmd.example(def.example);
    commands.set(cmd.name, {
      cac: cmd,
      options,
      async run(raw, args, io) {
        const url = flagOrEnv(raw, NODE_URL, io.env) ?? DEFAULT_NODE_URL;
        // Named as it was given: a bad ROOMY_NODE is not a --node the user never typed.
        const from = (raw.values.get("node")?.length ?? 0) > 0 ? "--node" : "--node (ROOMY_NODE)";
        const u = URL.canParse(url) ? new URL(url) : null;
        if (u === null || !/^https?:$/.test(u.protocol)) throw new UsageError(`${from} must be an http(s) URL, got ${JSON.stringify(url)}`);
        // The API's paths are put after the URL's own: a query or fragment would end up in front of them.
        if (u.search !== "" || u.hash !== "") throw new UsageError(`${from} takes no query or fragment (http://HOST:PORT, or a path prefix), got ${JSON.stringify(url)}`);
        const token = adminToken(flagOrEnv(raw, TOKEN, io.env), (raw.values.get("token")?.length ?? 0) > 0 ? "--token" : "ROOMY_ADMIN_TOKEN");
        const client = createClient(url, { token });
        await io.out(await def.run(client, args, raw, isOn(raw, "json")));
        return EXIT_OK;
      },
    });
  }
  return { cli, commands };
}

type HelpSection = Parameters<NonNullable<Command["helpCallback"]>>[0][number];

/** Stops cac's outputHelp before it prints: the sections are printed through CliIo instead. */
class Sections {
  constructor(readonly list: HelpSection[]) {}
}

/** The help of one command, or of `roomy` itself (`which` undefined). */
function helpText(cli: ReturnType<typeof cac>, which: CommandDef | undefined): string {
  let sections: HelpSection[] = [];
  cli.globalCommand.helpCallback = (s) => {
    throw new Sections(s);
  };
  try {
    (which?.cac ?? cli.globalCommand).outputHelp();
  } catch (e) {
    if (!(e instanceof Sections)) throw e;
    sections = e.list;
  }
  if (which === undefined) {
    // The client commands' own options, said here too: a newcomer reading `roomy --help` meets --node first in the README.
    const names = CLIENT_OPTIONS.map(rawName);
    const w = Math.max(...names.map((n) => n.length));
    const body = CLIENT_OPTIONS.map((o, i) => `  ${names[i]!.padEnd(w)}  ${describe(o)}`).join("\n");
    sections.push({ title: "Options of every command but node", body }, { title: "Names that begin with -", body: DASH_HELP }, { title: "Exit codes", body: EXIT_CODES_HELP });
  } else if (which.cac.name === "node") {
    // Variables without a flag: secrets stay out of `ps`.
    const width = Math.max(...NODE_ENV_ONLY.map((e) => e.env.length));
    sections.push({
      title: "Environment",
      body: [
        "  every flag also reads the variable named after it, e.g. --http from ROOMY_HTTP (the flag wins); and:",
        ...NODE_ENV_ONLY.map((e) => `  ${e.env.padEnd(width)}  ${e.description}`),
      ].join("\n"),
    });
  } else if (which.cac.args.length > 0) {
    sections.push({ title: "Names that begin with -", body: `  put them after "--": roomy ${which.cac.name} -- ${which.cac.args.map(argName).join(" ")}` });
  }
  const text = sections.map((s) => (s.title === undefined ? s.body : `${s.title}:\n${s.body}`)).join("\n\n");
  // cac pads every option line, and indents nothing under Examples.
  return text.split("\n").map((l) => l.trimEnd()).join("\n").replace(/^Examples:\n(?! )(.*)$/gm, "Examples:\n  $1") + "\n";
}

function argName(a: Command["args"][number]): string {
  const v = a.variadic ? `...${a.value}` : a.value;
  return a.required ? `<${v}>` : `[${v}]`;
}

/** Parses `argv` (without the program), runs the command, returns the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const { cli, commands } = define();
  const allSpecs = [...GLOBAL_OPTIONS, ...CLIENT_OPTIONS, ...NODE_OPTIONS, ...CLIENT_COMMANDS.flatMap((c) => c.options ?? [])];
  const raw = scanArgv(argv, allSpecs);
  const json = isOn(raw, "json");
  let cmd: CommandDef | undefined;
  try {
    const [name, ...args] = raw.positionals;
    cmd = name === undefined ? undefined : commands.get(name);
    if (name !== undefined && cmd === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    checkFlags(raw, cmd);
    // Two names with different bad bytes would read as one (both U+FFFD): refused, never sent.
    const notUtf8 = [...(io.notUtf8 ?? [])][0];
    if (notUtf8 !== undefined) {
      throw new UsageError(`argument ${JSON.stringify(argv[notUtf8])} is not valid UTF-8 (the marks stand for bytes that were not): give names in UTF-8`);
    }
    if (isOn(raw, "version")) {
      await io.out(`roomy ${VERSION}\n`);
      return EXIT_OK;
    }
    if (isOn(raw, "help")) {
      await io.out(helpText(cli, cmd));
      return EXIT_OK;
    }
    if (cmd === undefined) {
      // No command is a usage error: the usage, on stderr (stdout is for results), exit 2.
      await io.err(helpText(cli, undefined));
      return EXIT_USAGE;
    }
    checkArity(cmd, args);
    return await cmd.run(raw, args, io);
  } catch (err) {
    return report(err, json, io, cmd?.cac.name);
  }
}

/** Every flag known and taken by the command, every value where one is needed. */
function checkFlags(raw: RawArgs, cmd: CommandDef | undefined): void {
  const first = raw.unknown[0];
  if (first !== undefined) {
    // Where the command takes names, it may be one that begins with "-": say where those go.
    const hint =
      cmd !== undefined && cmd.cac.args.length > 0
        ? ` (a name that begins with "-" goes after "--": roomy ${[cmd.cac.name, "--", ...cmd.cac.args.map(argName)].join(" ")})`
        : "";
    throw new UsageError(`unknown option ${first}${hint}`);
  }
  const missing = raw.missingValue[0];
  if (missing !== undefined) throw new UsageError(`${missing} needs a value`);
  const takes = new Map([...GLOBAL_OPTIONS, ...(cmd?.options ?? [])].map((s) => [s.name, s]));
  for (const [flag, values] of raw.values) {
    const spec = takes.get(flag);
    if (spec === undefined) throw new UsageError(`unknown option --${flag}${cmd === undefined ? "" : ` for ${cmd.cac.name}`}`);
    const bad = spec.value ? undefined : values.find((v) => v !== "true" && v !== "false");
    if (bad !== undefined) throw new UsageError(`--${flag} is a switch: give it alone (or =true, =false), got --${flag}=${bad}`);
  }
}

function checkArity(cmd: CommandDef, args: string[]): void {
  const min = cmd.cac.args.filter((a) => a.required).length;
  const max = cmd.cac.args.some((a) => a.variadic) ? Infinity : cmd.cac.args.length;
  const usage = ["roomy", cmd.cac.name, ...cmd.cac.args.map(argName)].join(" ");
  if (args.length < min) throw new UsageError(`${cmd.cac.name} needs more arguments: ${usage}`);
  if (args.length > max) {
    const got = max === 0 ? `no arguments, got ${args.map((a) => JSON.stringify(a)).join(" ")}` : `at most ${max} argument${max === 1 ? "" : "s"}, got ${args.length}`;
    throw new UsageError(`${cmd.cac.name} takes ${got}: ${usage}`);
  }
}

/** `command`: the command the error came from, whose own help is the one to read (`roomy node --help` lists the node's flags). */
async function report(err: unknown, json: boolean, io: CliIo, command?: string): Promise<number> {
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
  if (err instanceof UsageError) {
    await io.err(`roomy: ${err.message}\nrun "roomy ${command === undefined ? "" : command + " "}--help" for usage\n`);
    return EXIT_USAGE;
  }
  if (err instanceof CannotStartError) {
    await io.err(`roomy: ${err.message}\n`);
    return EXIT_CANNOT_START;
  }
  if (err instanceof OutputError) {
    // Said on stderr whatever --json says: stdout is what failed.
    await io.err(`roomy: ${err.message} (the command itself may have taken effect)\n`);
    return EXIT_OUTPUT;
  }
  await io.err(`roomy: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT_ERROR;
}
