/**
 * A seed that is no roomy mesh, as a newcomer gets it wrong: the admin API's
 * port given to --join (it answers in HTTP), or a node of another cookie.
 * Before, /readyz said only "seeds not answering" and the log
 * "oversized frame: 1213486160 bytes exceeds the limit of 4096" (the
 * bytes "HTTP" read as a length). Now both say what the seed is.
 *
 * And a node whose only seed is its own address (the same --join for every
 * node, run as one node): it waited for ever, "seeds not answering"; it is
 * the first node of its cluster, as one with no --join.
 *
 * Real processes on loopback, ~15 s. Ports 28094-28099, 28078-28079, 28066-28068 (28068: nothing listens).
 */
import { afterAll, expect, test } from "bun:test";
import { LoopbackNode, until } from "../support/procs.ts";
import { ensureBinary } from "../ship/support/binary.ts";

const seed = new LoopbackNode("s1", 28094, 28095, ["--profile", "local", "--cookie", "one-cookie"]);
const viaHttp = new LoopbackNode("s2", 28096, 28097, ["--profile", "local", "--cookie", "one-cookie"]);
const otherCookie = new LoopbackNode("s3", 28098, 28099, ["--profile", "local", "--cookie", "another-cookie"]);
const selfSeeded = new LoopbackNode("solo", 28078, 28079, ["--profile", "local"]);
const deadSeeded = new LoopbackNode("lost", 28066, 28067, ["--profile", "local"]);

afterAll(async () => {
  await Promise.all([seed, viaHttp, otherCookie, selfSeeded, deadSeeded].map((n) => n.kill()));
}, 30_000);

const reason = async (n: LoopbackNode): Promise<string> => {
  const res = await fetch(`${n.url}/readyz`, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
  return res === null ? "" : (((await res.json()) as { reason?: string }).reason ?? "");
};

test("a node whose seed is an admin API port, or of another cookie, says so on /readyz and in its log", async () => {
  const bin = await ensureBinary();
  await seed.start(bin, []);
  await until("the seed ready", async () => ((await seed.ready()) ? true : undefined), 20_000, 50);
  await viaHttp.start(bin, [`127.0.0.1:${seed.httpPort}`]);
  await otherCookie.start(bin, [seed.mesh]);
  const http = await until("s2 to name its seed", async () => {
    const r = await reason(viaHttp);
    return r.includes("not a roomy mesh peer") ? r : undefined;
  }, 15_000, 100);
  expect(http).toContain(`127.0.0.1:${seed.httpPort}: `);
  expect(http).toContain("it answered in HTTP: that address is an admin API (--http), not a mesh address (--bind");
  expect(viaHttp.logs()).toContain("it answered in HTTP");
  expect(viaHttp.logs()).not.toContain("exceeds the limit");
  const cookie = await until("s3 to name its seed's refusal", async () => {
    const r = await reason(otherCookie);
    return r.includes("cookie") ? r : undefined;
  }, 15_000, 100);
  expect(cookie).toContain(`${seed.mesh}: `);
  expect(cookie).toContain("does not hold the cookie");
  expect(await viaHttp.ready()).toBe(false);
  expect(await otherCookie.ready()).toBe(false);
}, 60_000);

test("a node whose only seed is its own address starts its cluster, as the first node does", async () => {
  const bin = await ensureBinary();
  await selfSeeded.start(bin, [selfSeeded.mesh]);
  // The first node's wait for a cluster it may have been in (6.4 s in the local profile), then ready.
  await until("ready", async () => ((await selfSeeded.ready()) ? true : undefined), 30_000, 100);
}, 60_000);

test("a node whose seed has nothing listening names that seed on /readyz (a mistyped --join shows)", async () => {
  const bin = await ensureBinary();
  await deadSeeded.start(bin, ["127.0.0.1:28068"]);
  const r = await until("the seed named", async () => {
    const x = await reason(deadSeeded);
    return x.includes("nothing answers at") ? x : undefined;
  }, 15_000, 100);
  expect(r).toBe("no peer reachable yet (seeds not answering; nothing answers at 127.0.0.1:28068)");
}, 60_000);
