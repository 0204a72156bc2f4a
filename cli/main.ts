#!/usr/bin/env bun
/**
 * The `roomy` program: `roomy node` runs a node, every other command talks
 * to one. Runs under Bun (also compiled with `bun build --compile`) and Deno.
 */
import { argv, environment, exit, writeOut } from "../adapter/process.ts";
import type { CliIo } from "./io.ts";
import { runCli } from "./program.ts";

const io: CliIo = { out: (t) => writeOut("stdout", t), err: (t) => writeOut("stderr", t), env: environment() };
exit(await runCli(argv(), io));
