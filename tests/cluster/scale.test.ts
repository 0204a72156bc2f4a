/**
 * Scale on real processes (ROOMY_SCALE=1; skipped otherwise): 3 `dist/roomy`
 * nodes, ROOMY_SCALE_ROOMS rooms (default 100,000, every tenth with 50
 * seats) and ROOMY_SCALE_PEOPLE distinct people (default 1,000,000) through
 * the HTTP API, round robin over the nodes. Then: every node's dump is the
 * same and holds every acknowledged person once, in the room of their last
 * acknowledged walk; no `unknown_room` is ever answered for an existing room
 * (walks, and who-is-in probes on every node meanwhile); a 4th node's dump
 * equals the others' when it first reports ready; kill -9 of a node while
 * people are being moved, and its restart under its name, lose no
 * acknowledged walk. Timing goals are the benchmark's (tests/bench/scale.bench.ts).
 * A walk with no answer or `unavailable` is sent again (to the next node);
 * the person may then be in either room. Ports 24130-24137.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ensureBinary } from "../ship/support/binary.ts";
import { checkDump, compareDumps, takeDump } from "../bench/scale-check.ts";
import {
  call, createRooms, Ledger, RoomPicker, type RoomsResult, roomName, type RoomsSpec, seeded, uncertain, walkLoad, type Walk,
} from "../support/walk-load.ts";
import { ScaleCluster, type ScaleNode } from "../bench/scale-procs.ts";
import { sleep, until } from "../support/procs.ts";

const ON = process.env["ROOMY_SCALE"] === "1";
const env = (k: string, d: number): number => {
  const v = process.env[k];
  return v === undefined || v === "" ? d : Number(v);
};
const PEOPLE = env("ROOMY_SCALE_PEOPLE", 1_000_000);
const ROOMS = env("ROOMY_SCALE_ROOMS", 100_000);
/** People moved (10 a walk) while a node is killed and restarted. */
const MOVES = Math.min(PEOPLE, Math.max(20_000, Math.floor(PEOPLE / 5)));
const PER_REQUEST = 10;
const CLIENTS = 12;
const SPEC: RoomsSpec = { rooms: ROOMS, capEvery: 10, capacity: 50 };
const BASE_PORT = 24130;
/** Generous: this is about correctness on a shared machine, not speed. */
const LOAD_CAP_MS = 15 * 60_000;
const T = 40 * 60_000;

let cluster: ScaleCluster;
let rooms: RoomsResult;
let picker: RoomPicker;
const ledger = new Ledger(PEOPLE);
/** Each step builds on the one before: after a failure the rest fail at once instead of waiting out their deadlines. */
let failedStep: string | null = null;
async function step(name: string, body: () => Promise<void>): Promise<void> {
  if (failedStep !== null) throw new Error(`not run: the step "${failedStep}" failed`);
  failedStep = name;
  await body();
  failedStep = null;
}

/** who-is-in to random existing rooms on every node, until stopped: every answer's code. */
function probe(nodes: ScaleNode[]): { codes: Record<string, number>; stop(): Promise<void> } {
  const codes: Record<string, number> = {};
  const random = seeded(99);
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      for (const n of nodes) {
        const room = roomName(picker.any());
        const o = await call(`${n.url}/v1/who-is-in?room=${room}`, undefined, 5_000);
        const k = o.ok ? "ok" : o.code;
        codes[k] = (codes[k] ?? 0) + 1;
      }
      await sleep(2 + Math.floor(random() * 5));
    }
  })();
  return {
    codes,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** Walks `walks` (in order) through `urls`; an uncertain answer sends the walk again. Answer codes. */
async function send(urls: string[], walks: () => Walk | undefined, onIssue?: (i: number) => void): Promise<Record<string, number>> {
  let issued = 0;
  let finished = false;
  const r = await walkLoad({
    urls,
    clients: CLIENTS,
    capMs: LOAD_CAP_MS,
    next() {
      const w = walks();
      if (w === undefined) finished = true;
      else onIssue?.(issued);
      if (w !== undefined) issued++;
      return w;
    },
    done: () => finished,
    answered(w, o) {
      ledger.record(w.people, w.room, o);
      return uncertain(o);
    },
  });
  if (r.capped) throw new Error(`the load did not finish within ${LOAD_CAP_MS} ms: ${JSON.stringify(r.codes)}`);
  console.log(`scale test: ${issued} walks in ${Math.round(r.ms)} ms, answers ${JSON.stringify(r.codes)}`);
  return r.codes;
}

/** Polls until every node answers the same dump; that dump's text. */
async function agreedDump(nodes: ScaleNode[], deadlineMs: number): Promise<string> {
  return until(`the same dump from ${nodes.map((n) => n.name).join(", ")}`, async () => {
    const ds = [];
    for (const n of nodes) {
      const d = await takeDump(n.url, 120_000);
      if (d.text === undefined) throw new Error(`${n.name}: ${d.error}`);
      ds.push(d.text);
    }
    const cmp = compareDumps(ds);
    if (!cmp.equal) throw new Error(cmp.detail);
    return ds[0]!;
  }, deadlineMs, 1_000);
}

function expectComplete(text: string): void {
  const c = checkDump(text, ledger, rooms.created);
  expect({ ...c, examples: c.examples.join("; ") }).toMatchObject({ ok: true, rooms: ROOMS, duplicated: 0, missing: 0, misplaced: 0, unexpected: 0, roomsMissing: 0 });
}

describe.skipIf(!ON)(`scale: ${ROOMS} rooms, ${PEOPLE} people on real nodes`, () => {
  beforeAll(async () => {
    // ROOMY_SCALE_BIN: a given binary instead of an up-to-date dist/roomy.
    const bin = process.env["ROOMY_SCALE_BIN"] || (await ensureBinary());
    cluster = new ScaleCluster(bin, "scale-t", 4, BASE_PORT);
    await cluster.start(3);
  }, 180_000);

  afterAll(async () => {
    await cluster?.close();
  }, 30_000);

  test("every room created through the API exists, then every person walked in is on every node's dump once, in their room", () => step("load", async () => {
    const three = cluster.nodes.slice(0, 3);
    const urls = three.map((n) => n.url);
    rooms = await createRooms(urls, SPEC, { clients: CLIENTS, batch: 1_000, capMs: 10 * 60_000, retry: true });
    expect({ created: rooms.createdCount, errors: rooms.errors }).toMatchObject({ created: ROOMS });
    picker = new RoomPicker(SPEC, rooms.created, seeded(42));
    const prober = probe(three);
    let next = 0;
    let codes: Record<string, number>;
    try {
      codes = await send(urls, () => {
        if (next >= PEOPLE) return undefined;
        const n = Math.min(PER_REQUEST, PEOPLE - next);
        const people = Array.from({ length: n }, (_, i) => next + i);
        next += n;
        return { room: picker.pick(n), people };
      });
    } finally {
      await prober.stop();
    }
    expect(codes["unknown_room"] ?? 0).toBe(0);
    expect(prober.codes["unknown_room"] ?? 0).toBe(0);
    expect(ledger.ackedCount()).toBe(PEOPLE);
    expectComplete(await agreedDump(three, 180_000));
  }), T);

  test("a 4th node's dump, when it first reports ready, equals the others'", () => step("join", async () => {
    const reference = await agreedDump(cluster.nodes.slice(0, 3), 120_000);
    const fourth = cluster.nodes[3]!;
    await cluster.startOne(fourth);
    await until("the 4th node answers /readyz 200", async () => ((await fourth.ready(500)) ? true : undefined), 600_000, 10);
    const d = await takeDump(fourth.url);
    expect(d.error).toBeUndefined();
    expect(compareDumps([reference, d.text!]).detail).toBe("equal");
  }), T);

  test("kill -9 of a node while people move, and its restart under its name: no unknown_room, no acknowledged walk lost", () => step("kill", async () => {
    const victim = cluster.nodes[1]!;
    const prober = probe(cluster.nodes);
    const killAt = Math.floor(MOVES / PER_REQUEST / 3);
    let restarted: Promise<void> | null = null;
    let next = 0;
    let codes: Record<string, number>;
    try {
      codes = await send(cluster.nodes.map((n) => n.url), () => {
        if (next >= MOVES) return undefined;
        const n = Math.min(PER_REQUEST, MOVES - next);
        // Each person moves once: never two walks of one person in flight.
        const people = Array.from({ length: n }, (_, i) => next + i);
        next += n;
        return { room: picker.pick(n), people, move: true };
      }, (i) => {
        if (i === killAt) {
          restarted = (async () => {
            await victim.kill();
            await sleep(500);
            await cluster.startOne(victim);
          })();
        }
      });
      expect(restarted).not.toBeNull();
      await restarted;
      await until(`${victim.name} answers /readyz 200 again`, async () => ((await victim.ready()) ? true : undefined), 180_000, 100);
    } finally {
      await prober.stop();
    }
    expect(codes["unknown_room"] ?? 0).toBe(0);
    expect(prober.codes["unknown_room"] ?? 0).toBe(0);
    // The kill must have been under load: some walk went unanswered or was refused as unavailable.
    expect((codes["network"] ?? 0) + (codes["timeout"] ?? 0) + (codes["unavailable"] ?? 0)).toBeGreaterThan(0);
    expectComplete(await agreedDump(cluster.nodes, 300_000));
  }), T);
});
