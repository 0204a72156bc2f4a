/**
 * What must hold in a simulated run, checked on every live node after every
 * step, on every read's answer, and once the cluster has settled at the end.
 * Each violation is a line naming the virtual time, node and what was seen.
 */
import type { AppSim } from "../../mesh/sim/app-harness.ts";
import type { History, Op } from "./history.ts";
import { occupantsByRoom, parkedPlates, roomsOf } from "./occupancy.ts";

export interface Violations {
  /** a replica whose lot holds more cars than spaces */
  replicaLot: string[];
  /** a replica with more people in a room than its capacity */
  replicaRoom: string[];
  /** a read (dump) that shows a person in two rooms */
  readTwice: string[];
  /** a read (dump, who-is-in) that shows a room over capacity */
  readCapacity: string[];
  /** a read (dump, who-is-in) missing a person whose walk into the room was acknowledged before it began, with no other write of theirs that could come between */
  staleRead: string[];
  /** an answer the contract rules out: unknown_room for a room that exists, a non-RoomyError */
  wrongAnswer: string[];
  /** two nodes serving one process name at the same instant */
  dualServe: string[];
  /** acknowledged writes missing from the final state */
  lost: string[];
  /** the final state over a capacity */
  finalCapacity: string[];
  /** the cluster did not settle, or nodes disagree at the end */
  converge: string[];
  /** a process name on two nodes, or off its owner, once stable */
  owners: string[];
  /** calls on live nodes that never answered; nodes that failed to start */
  hung: string[];
  /** nodes that never report ready although the cluster settled */
  ready: string[];
}

export function newViolations(): Violations {
  return {
    replicaLot: [],
    replicaRoom: [],
    readTwice: [],
    readCapacity: [],
    staleRead: [],
    wrongAnswer: [],
    dualServe: [],
    lost: [],
    finalCapacity: [],
    converge: [],
    owners: [],
    hung: [],
    ready: [],
  };
}

/** The rooms of a run and their capacities (null: none). */
export type RoomCaps = Record<string, number | null>;

/** People per room in one node's replica (seats counted as the product defines them: occupancy.ts). */
function occupancy(sim: AppSim, name: string, rooms: RoomCaps): Map<string, string[]> {
  const map = sim.slot(name).node?.map;
  return map === undefined ? new Map() : occupantsByRoom(map, rooms);
}

/** Every live replica: lot within spaces, rooms within capacity. */
export function checkReplicas(sim: AppSim, rooms: RoomCaps, spaces: number, v: Violations, at: string): void {
  for (const s of sim.up()) {
    if (s.node === null) continue;
    const lot = s.node.app.lotLocal();
    const cars = Object.keys(lot.vehicles);
    if (lot.occupied > spaces || cars.length > spaces) {
      v.replicaLot.push(`${at} ${s.name}: ${cars.length} cars in ${spaces} spaces: ${cars.join(",")}`);
    }
    const raw = parkedPlates(s.node.map, spaces);
    if (raw.length > spaces) v.replicaLot.push(`${at} ${s.name}: its entries park ${raw.length} cars in ${spaces} spaces: ${raw.join(",")}`);
    for (const [room, people] of occupancy(sim, s.name, rooms)) {
      const c = rooms[room];
      if (c !== undefined && c !== null && people.length > c) {
        v.replicaRoom.push(`${at} ${s.name}: ${room} holds ${people.sort().join(",")} (capacity ${c})`);
      }
    }
  }
}

/** No process name served by two live nodes at once. */
export function checkServing(sim: AppSim, names: readonly string[], v: Violations, at: string): void {
  for (const name of names) {
    const on = sim.up().filter((s) => s.parts?.registry.isServing(name) === true);
    if (on.length > 1) v.dualServe.push(`${at} ${name} served by ${on.map((s) => s.name).join(",")}`);
  }
}

/** A dump's (or who-is-in's) answer: nobody twice, no room over capacity. */
export function checkRead(history: History, op: Op, dump: Record<string, string[]>, rooms: RoomCaps, v: Violations): void {
  const seen = new Map<string, string>();
  for (const [room, people] of Object.entries(dump)) {
    const c = rooms[room];
    if (c !== undefined && c !== null && people.length > c) {
      v.readCapacity.push(`${history.show(op.id)}: ${room} = ${people.join(",")} (capacity ${c})`);
    }
    for (const p of people) {
      const other = seen.get(p);
      if (other !== undefined) v.readTwice.push(`${history.show(op.id)}: ${p} in ${other} and ${room}`);
      seen.set(p, room);
    }
  }
}

/**
 * A read's answer shows where each person is as of some instant after every
 * write acknowledged before the read began (linearizability of one register
 * per person, checked each way a stale replica would show):
 *  - p must be in room r if a walk of p into r was acknowledged before the
 *    read was invoked (when the answer covers r);
 *  - p must be in no room of the answer if a leave of p was acknowledged
 *    before the read, and in no room but r after an acknowledged walk into r;
 * unless another write of p that was not refused (a walk, a leave) could
 * fall after that write and before the read's answer.
 * `answer`: the rooms the answer covers (a dump: all it names; who-is-in: one).
 */
export function checkFresh(history: History, op: Op, answer: Record<string, string[]>, v: Violations): void {
  if (op.settledAt === null) return;
  const readEnd = op.settledAt;
  const present = new Map<string, Set<string>>();
  const roomOf = new Map<string, string>();
  for (const [room, people] of Object.entries(answer)) {
    present.set(room, new Set(people));
    for (const p of people) roomOf.set(p, room);
  }
  /** Whether a write of p other than w, that could put p where `fits` says, may fall between w and the read's end. */
  const overtaken = (w: Op, p: string, fits: (o: Op) => boolean): boolean =>
    history.ops.some(
      (o) =>
        o !== w &&
        (o.kind === "walk" || o.kind === "leave") &&
        o.status !== "refused" &&
        o.keys.includes(p) &&
        fits(o) &&
        o.invokedAt < readEnd &&
        (o.status === "pending" || history.windowEnd(o) >= w.invokedAt),
    );
  for (const w of history.ops) {
    if ((w.kind !== "walk" && w.kind !== "leave") || w.status !== "ok" || w.settledAt === null || w.settledAt >= op.invokedAt) continue;
    for (const p of w.keys) {
      const shown = roomOf.get(p);
      if (w.kind === "leave") {
        // Only a walk puts p back in a room.
        if (shown !== undefined && !overtaken(w, p, (o) => o.kind === "walk" && o.target === shown)) {
          v.staleRead.push(`${history.show(op.id)}: ${p} in ${shown}, though ${history.show(w.id)}`);
        }
        continue;
      }
      const inRoom = present.get(w.target);
      if (inRoom !== undefined && !inRoom.has(p) && !overtaken(w, p, (o) => !(o.kind === "walk" && o.target === w.target))) {
        v.staleRead.push(`${history.show(op.id)}: ${p} not in ${w.target}, though ${history.show(w.id)}`);
      }
      if (shown !== undefined && shown !== w.target && !overtaken(w, p, (o) => o.kind === "walk" && o.target === shown)) {
        v.staleRead.push(`${history.show(op.id)}: ${p} in ${shown}, though ${history.show(w.id)}`);
      }
    }
  }
}

/** Codes no op of the workload may get: every room and gate it names exists. */
const WRONG = new Set(["unknown_room", "unknown_gate", "not_found", "thrown", "internal", "bad_request", "invalid_name"]);

export function checkAnswer(history: History, op: Op, v: Violations): void {
  if (op.code !== null && WRONG.has(op.code)) v.wrongAnswer.push(`${history.show(op.id)}: ${String(op.result)}`);
}

/**
 * The settled cluster: every node answers the same dump and lot, replicas
 * agree, one copy of each process on its owner, capacities hold, and the
 * final values are those the history allows (history.ts).
 */
export async function checkEnd(sim: AppSim, history: History, rooms: RoomCaps, spaces: number, v: Violations): Promise<void> {
  const answers = new Map<string, string>();
  let reference: Record<string, string[]> | undefined;
  for (const s of sim.up()) {
    if (s.node === null) continue;
    const r = await sim.settle(s.node.app.dump(), 20_000);
    if (r.ok !== true) v.converge.push(`${s.name}: final dump failed: ${r.ok === false ? String(r.error) : "no answer"}`);
    else {
      answers.set(s.name, JSON.stringify(r.value));
      reference ??= r.value;
    }
    answers.set(`${s.name}/lot`, JSON.stringify(s.node.app.lotLocal()));
  }
  const first = sim.up()[0]!.name;
  for (const [k, a] of answers) {
    const ref = answers.get(k.endsWith("/lot") ? `${first}/lot` : first);
    if (a !== ref) v.converge.push(`${k} answers ${a}, ${first} ${ref}`);
  }
  if (!sim.replicasAgree()) v.converge.push("replicas differ at the end");
  if (reference !== undefined) {
    const op = history.begin("dump", "", [], sim.clock.now() - sim.startedAt, 0);
    history.attempt(op, first, sim.slot(first).generation, op.invokedAt);
    history.attemptDone(op, { ok: true, value: reference }, op.invokedAt);
    checkRead(history, op, reference, rooms, v);
  }

  v.owners.push(...sim.duplicateProcesses());
  for (const s of sim.up()) {
    for (const name of s.parts?.registry.localNames() ?? []) {
      const owner = s.parts!.registry.ownerOf(name);
      if (owner !== s.name) v.owners.push(`${name} runs on ${s.name} but ${owner} owns it`);
    }
  }

  const node = sim.slot(first).node!;
  const lot = node.app.lotLocal();
  if (lot.occupied > spaces) v.finalCapacity.push(`final lot: ${lot.occupied} cars in ${spaces} spaces`);
  const parked = parkedPlates(node.map, spaces);
  if (parked.length > spaces) v.finalCapacity.push(`final lot entries: ${parked.length} cars in ${spaces} spaces`);
  for (const [room, people] of occupancy(sim, first, rooms)) {
    const c = rooms[room];
    if (c !== undefined && c !== null && people.length > c) v.finalCapacity.push(`final ${room}: ${people.join(",")} (capacity ${c})`);
  }

  const where = roomsOf(node.map, rooms);
  const judged = history.judge(
    (p) => where.get(p) ?? null,
    (plate) => parked.includes(plate),
  );
  v.lost.push(...judged.violations);
  history.judgement = judged;
}
