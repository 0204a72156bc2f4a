/**
 * What `roomy node` says when it starts: a port in use is one line and exit
 * 4; stdout says listening at once, and ready only once /readyz would.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:net";
import { cli, deadPort, exitOf, killAll, MAIN, spawnNode } from "./helpers.ts";

afterAll(() => killAll());

/** A loopback port held by a plain TCP listener for the duration of `body`. */
async function withPortTaken<T>(body: (port: number) => Promise<T>): Promise<T> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await body(port);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Polls `probe` until it returns true or the deadline passes. */
async function until(what: string, probe: () => boolean | Promise<boolean>, deadlineMs = 15_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await Bun.sleep(50);
  }
  throw new Error(`${what}: not within ${deadlineMs} ms`);
}

describe("a port in use", () => {
  test("the mesh port: one line, exit 4, no stack trace", async () => {
    await withPortTaken(async (port) => {
      const r = await cli(["node", "--bind", `127.0.0.1:${port}`, "--http", "127.0.0.1:0"]);
      expect(r).toEqual({ code: 4, stdout: "", stderr: `roomy: mesh port 127.0.0.1:${port} is in use\n` });
    });
  });

  test("the http port: one roomy: line (the last), exit 4, no stack trace", async () => {
    await withPortTaken(async (port) => {
      const r = await cli(["node", "--bind", "127.0.0.1:0", "--http", `127.0.0.1:${port}`]);
      expect([r.code, r.stdout]).toEqual([4, ""]);
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines.at(-1)).toBe(`roomy: http port 127.0.0.1:${port} is in use`);
      expect(lines.filter((l) => l.startsWith("roomy:"))).toHaveLength(1);
      expect(lines.filter((l) => /^\s+at /.test(l) || l.includes("Error"))).toEqual([]);
    });
  });
});

describe("listening, then ready", () => {
  test("a lone node prints listening, then ready, and /readyz then answers 200", async () => {
    const n = await spawnNode(["--name", "lone"]);
    await until("the ready line", () => n.out().includes("\nroomy node lone ready "));
    const [listening, ready] = n.out().split("\n");
    expect(listening).toBe(`roomy node lone listening http=${n.url} mesh=${n.mesh}`);
    expect(ready).toBe(`roomy node lone ready http=${n.url} mesh=${n.mesh}`);
    expect((await fetch(new URL("/readyz", n.url))).status).toBe(200);
    n.proc.kill("SIGTERM");
    expect(await exitOf(n.proc)).toBe(0);
  });

  test("a node whose seed does not answer prints listening and no ready line while /readyz answers 503; ready once the seed is up", async () => {
    const seedPort = await deadPort();
    const n = await spawnNode(["--name", "joiner", "--profile", "local", "--join", `127.0.0.1:${seedPort}`]);
    expect(n.out()).toStartWith(`roomy node joiner listening http=${n.url} mesh=`);
    // A few seconds of not being ready: the line must not come.
    const until3s = Date.now() + 3_000;
    while (Date.now() < until3s) {
      expect((await fetch(new URL("/readyz", n.url))).status).toBe(503);
      expect(n.out()).not.toContain(" ready ");
      await Bun.sleep(200);
    }
    // The seed comes up where the joiner looks for it: the joiner becomes ready and says so.
    const seed = Bun.spawn([process.execPath, MAIN, "node", "--name", "seed", "--profile", "local", "--bind", `127.0.0.1:${seedPort}`, "--http", "127.0.0.1:0"], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
    });
    try {
      await until("the joiner's ready line", () => n.out().includes("\nroomy node joiner ready "), 30_000);
      // Ready, though not for good at once: adding the seed moves the epoch, and the joiner catches up for it.
      await until("the joiner's /readyz 200", async () => (await fetch(new URL("/readyz", n.url))).status === 200, 30_000);
    } finally {
      seed.kill("SIGKILL");
    }
  }, 60_000);
});

describe("--advertise checked once", () => {
  test("an --advertise nothing answers at is warned of (the node runs on); one it listens at is not", async () => {
    const dead = await deadPort();
    const bad = await spawnNode(["--advertise", `127.0.0.1:${dead}`]);
    const end = Date.now() + 15_000;
    while (!bad.logs().includes("--advertise: nothing accepts connections")) {
      if (Date.now() > end) throw new Error(`no warning within 15 s:\n${bad.logs().slice(-2_000)}`);
      await Bun.sleep(50);
    }
    expect(bad.logs()).toContain(`advertise=127.0.0.1:${dead}`);
    expect(bad.proc.exitCode).toBe(null);
    // Its own listening address as --advertise: no warning (a connect that ends before any handshake says nothing either).
    const port = await deadPort();
    const good = await spawnNode(["--bind", `127.0.0.1:${port}`, "--advertise", `127.0.0.1:${port}`]);
    await Bun.sleep(1_500);
    expect(good.logs()).not.toContain("--advertise");
    expect(good.logs()).not.toMatch(/WARN|ERROR/);
  }, 40_000);
});
