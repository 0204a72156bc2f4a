#!/usr/bin/env bun
/**
 * The `roomy` program: `roomy node` runs a node, every other command talks
 * to one. Runs under Bun (also compiled with `bun build --compile`) and Deno.
 */
import process from "node:process";
import type { CliIo } from "./io.ts";
import { runCli } from "./program.ts";

const write = (stream: NodeJS.WriteStream) => (text: string) =>
  new Promise<void>((resolve) => {
    // Resolve once flushed: exiting right after a write to a pipe could cut it off.
    if (text === "") resolve();
    else stream.write(text, () => resolve());
  });

const io: CliIo = { out: write(process.stdout), err: write(process.stderr), env: process.env };
const code = await runCli(process.argv.slice(2), io);
process.exit(code);
