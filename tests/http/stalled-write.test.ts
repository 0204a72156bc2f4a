/**
 * A write that reached a node while its event loop stalled (a SIGSTOP, a
 * long pause), whose client gave up and closed the connection before the
 * node woke, is dropped unapplied (http/instrument.ts afterStall): applied
 * late, it could undo a write acknowledged meanwhile through another node
 * (tests/cluster/hostile-zombie-write.test.ts, with real processes and a
 * real SIGSTOP). A client that still waits is answered as usual.
 *
 * The stall here is this test's own process blocking its loop (Atomics.wait)
 * while a client in a child process sends its request, then either closes
 * the connection or waits for the answer.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Logger } from "../../mesh/types.ts";
import { call, servedNode, type Served_ } from "./harness.ts";
import { rawRequest } from "./raw-http.ts";

const lines: { level: string; msg: string }[] = [];
const capture: Logger = {
  debug: (msg) => lines.push({ level: "debug", msg }),
  info: (msg) => lines.push({ level: "info", msg }),
  warn: (msg) => lines.push({ level: "warn", msg }),
  error: (msg) => lines.push({ level: "error", msg }),
};

/** A client process: connects, says so, sends `request` after 100 ms, and with it ends the connection (`leave`) or prints the answer. */
const CLIENT = `
const net = require("node:net");
const [port, request, leave] = [Number(process.argv[1]), process.argv[2], process.argv[3] === "leave"];
const s = net.connect(port, "127.0.0.1", () => {
  console.log("connected");
  setTimeout(() => {
    // Leaving: the request and the end of the connection in one go, well inside the stall
    // (a second timer for the close slipped past the stall on a loaded machine).
    if (!leave) return void s.write(request);
    s.end(request, () => { console.log("gone"); setTimeout(() => process.exit(0), 50); });
  }, 100);
});
let got = "";
s.on("data", (d) => { got += d; if (got.includes("\\r\\n\\r\\n")) { console.log("answer " + got.split(" ")[1]); process.exit(0); } });
s.on("error", (e) => { console.log("error " + e.message); process.exit(0); });
`;

/** Block this process's event loop for `ms`, as a SIGSTOP would. */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

async function sendDuringStall(s: Served_, body: unknown, leave: boolean): Promise<string> {
  const port = new URL(s.url).port;
  const child = Bun.spawn([process.execPath, "-e", CLIENT, port, rawRequest("POST", "/v1/walk-into", body), leave ? "leave" : "wait"], { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let out = "";
  const deadline = Date.now() + 10_000;
  while (!out.includes("connected") && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    out += decoder.decode(value);
  }
  expect(out).toContain("connected");
  stall(1_500); // the client sends, and (leave) closes, while the loop is blocked
  const exited = child.exited;
  for (;;) {
    const r = await Promise.race([reader.read(), exited.then(() => null)]);
    if (r === null || r.done === true) break;
    out += decoder.decode(r.value);
  }
  await exited;
  return out;
}

describe("a write read while the node's event loop stalled", () => {
  let s: Served_;
  beforeAll(async () => {
    s = await servedNode({ name: "stalled", logger: capture });
    await s.node.app.addRooms(["den"]);
  });
  afterAll(async () => {
    await s?.stop();
  });

  test("whose client closed the connection before the node woke is dropped unapplied, and logged", async () => {
    const out = await sendDuringStall(s, { room: "den", people: ["zombie"] }, true);
    expect(out).toContain("gone");
    // The request is read after the stall: give it a moment, then the proof it was not applied.
    const t0 = Date.now();
    while (!lines.some((l) => l.msg.includes("its client gave up")) && Date.now() - t0 < 5_000) await Bun.sleep(10);
    expect(lines.filter((l) => l.level === "info" && l.msg.includes("its client gave up")).length).toBe(1);
    expect(await s.node.app.whereIs("zombie")).toBe(null);
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
  }, 20_000);

  test("whose client still waits is applied and answered", async () => {
    const out = await sendDuringStall(s, { room: "den", people: ["patient"] }, false);
    expect(out).toContain("answer 200");
    expect(await s.node.app.whereIs("patient")).toBe("den");
    expect(await call(s.url, "POST", "/v1/walk-into", JSON.stringify({ room: "den", people: ["later"] }))).toMatchObject({ status: 200 });
  }, 20_000);
});
