/**
 * Pipelined HTTP/1.1: requests written back to back on one connection each
 * get their answer, in order, whether the answers are ready at once (a
 * cluster of one) or come later (two nodes: a room owned by the other node
 * answers after a mesh round trip). Bun.serve closed such a connection
 * unanswered (adapter/bun/serve.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Cluster } from "../support/cluster.ts";
import { servedNode, type Served_ } from "./harness.ts";
import { pipelined, type RawAnswer, rawRequest } from "./raw-http.ts";

const ROOMS = Array.from({ length: 8 }, (_, i) => `pipe-r${i}`);
const SETTLED = ROOMS.map((_, i) => `settled-${i}`);

/** Each settled person is in the room of the same index before the batch. */
async function prepare(url: string): Promise<void> {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(url + path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    expect(res.status).toBe(200);
  };
  await post("/v1/rooms", { rooms: ROOMS });
  for (let i = 0; i < ROOMS.length; i++) await post("/v1/walk-into", { room: ROOMS[i], people: [SETTLED[i]] });
}

/**
 * A batch whose answers tell each other apart: walk-intos (both routes),
 * refusals naming their room, and reads of state set before the batch.
 */
function batch(): { requests: string[]; check: (answers: RawAnswer[]) => void } {
  const requests: string[] = [];
  const expected: { status: number; body: unknown }[] = [];
  ROOMS.forEach((room, i) => {
    requests.push(rawRequest("POST", "/v1/walk-into", { room, people: [`walker-${i}`] }));
    expected.push({ status: 200, body: { ok: true } });
    requests.push(rawRequest("POST", "/v1/walk-into", { room: `missing-${i}`, people: ["x"] }));
    expected.push({ status: 404, body: { error: { code: "unknown_room", message: `room "missing-${i}" does not exist` } } });
    requests.push(rawRequest("GET", `/v1/where-is?person=${SETTLED[i]}`));
    expected.push({ status: 200, body: { room } });
    requests.push(rawRequest("POST", `/v1/rooms/${room}/walk-into`, { people: [`second-${i}`] }));
    expected.push({ status: 200, body: { ok: true } });
  });
  return {
    requests,
    check: (answers) => expect(answers.map((a) => ({ status: a.status, body: JSON.parse(a.body) as unknown }))).toEqual(expected),
  };
}

async function expectApplied(url: string): Promise<void> {
  const dump = (await (await fetch(`${url}/v1/dump`)).json()) as Record<string, string[]>;
  ROOMS.forEach((room, i) => expect(dump[room]).toEqual([`second-${i}`, SETTLED[i], `walker-${i}`].sort()));
}

describe("pipelined requests on one connection, one node", () => {
  let s: Served_;
  beforeAll(async () => {
    s = await servedNode({ name: "pipe1" });
    await prepare(s.url);
  });
  afterAll(async () => {
    await s?.stop();
  });

  test("POSTs and GETs written back to back are all answered, in order", async () => {
    const { requests, check } = batch();
    const { answers, closed } = await pipelined(s.url, requests);
    check(answers);
    expect(closed).toBe(false);
    await expectApplied(s.url);
  });
});

describe("pipelined requests on one connection, two nodes", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start({ size: 2, profile: "local", deadlineMs: 60_000 });
    await prepare(cluster.nodes[0]!.url);
  }, 90_000);
  afterAll(async () => {
    await cluster?.close();
  }, 30_000);

  test("two POSTs back to back both get their answer", async () => {
    const url = cluster.nodes[0]!.url;
    const { answers, closed } = await pipelined(url, [
      rawRequest("POST", "/v1/walk-into", { room: ROOMS[0], people: ["pair-a"] }),
      rawRequest("POST", "/v1/walk-into", { room: ROOMS[1], people: ["pair-b"] }),
    ]);
    expect({ answers, closed }).toEqual({ answers: [{ status: 200, body: '{"ok":true}' }, { status: 200, body: '{"ok":true}' }], closed: false });
    expect((await fetch(`${url}/v1/leave`, { method: "POST", body: JSON.stringify({ people: ["pair-a", "pair-b"] }) })).status).toBe(200);
  });

  test("POSTs and GETs to rooms of both nodes are all answered, in order", async () => {
    const url = cluster.nodes[0]!.url;
    const { requests, check } = batch();
    const { answers, closed } = await pipelined(url, requests);
    check(answers);
    expect(closed).toBe(false);
    await expectApplied(url);
  });
});
