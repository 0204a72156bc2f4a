#!/usr/bin/env bun
/**
 * The `roomy` program: `roomy node` runs a node, every other command talks
 * to one. Runs under Bun (also compiled with `bun build --compile`) and Deno.
 */
import { argv, argvNotUtf8, environment, exit, writeOut } from "../adapter/process.ts";
import type { CliIo } from "./io.ts";
import { OutputError } from "./exit.ts";
import { runCli } from "./program.ts";

const io: CliIo = {
  out: (t) => writeOut("stdout", t).catch((err: unknown) => Promise.reject(new OutputError("stdout", err))),
  // Nowhere left to say it: a failed error line changes nothing but the exit code already chosen.
  err: (t) => writeOut("stderr", t).catch(() => {}),
  env: environment(),
  notUtf8: argvNotUtf8(),
};
exit(await runCli(argv(), io));
