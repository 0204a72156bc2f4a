/**
 * CONTRACT.md: an error that carries `"no_effect": true` took no effect, and
 * `internal` is "a bug". A hostile user's requests against a real node, the
 * real CLI and the typed client:
 * - The typed client dropped `no_effect` from the errors it raised, so a
 *   library caller (mod.ts exports createClient) could not tell "did not
 *   run" from "may have run" (fixed in http/client.ts; the last test fails
 *   without it).
 * - `roomy dump` naming some 4,500 rooms builds a URL past the server's
 *   64 KiB request head, and a body past the server's hard cap: both
 *   were bare statuses the CLI and client called `internal` and printed with
 *   the whole 76 KiB URL (a binary before 4c25165); they are the contract's
 *   `bad_request` and `payload_too_large` now. Pinned here.
 *
 * Real processes, ~5 s: `HOSTILE_CLI_LIMITS=1 npx bun test --timeout 120000 tests/cluster/hostile-cli-limits.test.ts`
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { RoomyError } from "../../core/errors.ts";
import { createClient } from "../../http/client.ts";
import { Cluster, MAIN, freePorts, type RoomyProcess } from "../support/cluster.ts";
import { runToEnd } from "../support/procs.ts";

const RUN = process.env["HOSTILE_CLI_LIMITS"] === "1";
const ROOMS = Array.from({ length: 4_500 }, (_, i) => `room-${String(i).padStart(6, "0")}`);

let cluster: Cluster | undefined;
let node: RoomyProcess;

beforeAll(async () => {
  if (!RUN) return;
  cluster = await Cluster.start({ size: 1, profile: "local", deadlineMs: 30_000 });
  node = cluster.nodes[0]!;
  for (let i = 0; i < ROOMS.length; i += 1_000) await node.client.addRooms(ROOMS.slice(i, i + 1_000));
}, 60_000);

afterAll(async () => {
  await cluster?.close();
}, 20_000);

test.skipIf(!RUN)("a dump naming more rooms than one request head holds is exit 1 `bad_request` in one short line, not `internal`", async () => {
  const r = await runToEnd([process.execPath, MAIN, "--node", node.url, "dump", ...ROOMS], { deadlineMs: 30_000 });
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 1, stdout: "" });
  expect(r.stderr).toStartWith("roomy: bad_request: ");
  expect(r.stderr.length).toBeLessThan(1_000);
  // Fewer rooms at a time still work.
  const ok = await runToEnd([process.execPath, MAIN, "--node", node.url, "dump", ...ROOMS.slice(0, 1_000)], { deadlineMs: 30_000 });
  expect(ok.code).toBe(0);
  expect(Object.keys(JSON.parse(ok.stdout) as object)).toHaveLength(1_000);
}, 60_000);

test.skipIf(!RUN)("a body past the server's hard cap (1 MiB then, 128 KiB since 0fba8a5) is payload_too_large through the client, not internal", async () => {
  const people = Array.from({ length: 150_000 }, (_, i) => `person-${i}`);
  const err = await createClient(node.url, { retryForMs: 0 }).walkInto(ROOMS[0]!, people).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(RoomyError);
  expect((err as RoomyError).code).toBe("payload_too_large");
}, 30_000);

test.skipIf(!RUN)("an error marked no_effect keeps the mark through the client", async () => {
  const [port] = await freePorts(1);
  const server = Bun.serve({
    port: port!,
    hostname: "127.0.0.1",
    fetch: () => Response.json({ error: { code: "unavailable", message: "no owner yet", no_effect: true } }, { status: 503 }),
  });
  try {
    const err = await createClient(`http://127.0.0.1:${port}`, { retryForMs: 0 }).walkInto("den", ["alan"]).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(RoomyError);
    expect({ code: (err as RoomyError).code, noEffect: (err as RoomyError).noEffect }).toEqual({ code: "unavailable", noEffect: true });
  } finally {
    server.stop(true);
  }
}, 30_000);
