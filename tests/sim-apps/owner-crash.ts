/**
 * The focused scenario: a stream of walk-intos into one room, each person
 * once, from clients on the other nodes; in the middle the room's owner is
 * killed (and restarted a second later under its name, so the room may move
 * back to it). What is acknowledged must survive, the room must keep
 * serving, and its capacity must hold across the failover (the new owner
 * counts what the old one admitted only if it caught up first).
 *
 * `blackout`: the last walk-intos before the crash go to the owner itself
 * while the network drops everything, so their deltas never leave it; with
 * write concern 1 they are acknowledged anyway and die with it, which the
 * history must flag (the check has teeth); with concern 2 they are never
 * acknowledged.
 */
import { AppSim } from "../../mesh/sim/app-harness.ts";
import type { WriteConcern } from "../../mesh/replication/types.ts";
import { Clients } from "./clients.ts";
import { History } from "./history.ts";
import { roomsOf } from "./occupancy.ts";

export interface OwnerCrashOptions {
  seed: number;
  concern: WriteConcern;
  blackout: boolean;
  loss: number;
}

export interface OwnerCrashResult {
  owner: string;
  lost: string[];
  /** acknowledged before the crash but missing from the first who-is-in answered after it */
  notCaughtUp: string[];
  /** ops issued after the crash that ended neither acknowledged nor room_full */
  notServed: string[];
  finalCount: number;
  capacity: number;
  acked: number;
  ackedAfterCrash: number;
  firstWhoAfterCrashMs: number | null;
  settleError: string | null;
}

const CAPACITY = 100;
const STREAM = 120;
const CRASH_AT = 40;

export async function runOwnerCrash(o: OwnerCrashOptions): Promise<OwnerCrashResult> {
  const sim = await AppSim.start({
    seed: `owner-crash-${o.seed}`,
    nodes: 5,
    callTimeoutMs: 2000,
    writeConcern: o.concern,
    network: { reorder: true, delayMinMs: 0.2, delayMaxMs: 3 },
  });
  const n1 = sim.slot("n1").node!;
  await sim.retry(() => n1.app.addRooms(["stage"], CAPACITY), "create the room");
  await sim.until(() => sim.replicasAgree(), 10_000, "room replicated");
  sim.net.configure({ loss: o.loss, duplicate: 0.01 });

  const owner = sim.slot("n1").parts!.registry.ownerOf("room:stage");
  const ownerGen = sim.slot(owner).generation;
  const rnd = sim.random.fork("owner-crash");
  const history = new History(2000);
  const now = (): number => sim.clock.now() - sim.startedAt;
  let pinned = false;
  const clients = new Clients(sim, history, rnd.fork("clients"), () => {}, (ready) => {
    if (pinned) return ready.find((s) => s.name === owner && s.generation === ownerGen);
    const others = ready.filter((s) => s.name !== owner);
    return others[rnd.int(others.length)];
  });

  let crashAt = -1;
  const whoAnswers: { at: number; people: string[] }[] = [];
  /** Ask who is in the room through a node other than the old owner; the first answer counts. */
  const askWho = (): void => {
    const ready = sim.ready().filter((s) => s.name !== owner);
    ready[rnd.int(ready.length)]?.node?.app.whoIsIn("stage").then(
      (people) => {
        if (whoAnswers.length === 0) whoAnswers.push({ at: now(), people });
      },
      () => {},
    );
  };
  for (let i = 0; i < STREAM; i++) {
    if (o.blackout && i === CRASH_AT - 5) {
      pinned = true;
      sim.net.configure({ loss: 1 });
    }
    if (i === CRASH_AT) {
      sim.crash(owner);
      clients.reset(owner, ownerGen);
      crashAt = now();
      pinned = false;
      sim.net.configure({ loss: o.loss });
      sim.clock.setTimer(1000, () => sim.restart(owner));
    }
    clients.send(history.begin("walk", "stage", [`q${String(i).padStart(3, "0")}`], now(), 15_000));
    if (crashAt >= 0 && whoAnswers.length === 0) askWho();
    await sim.run(20 + rnd.int(20));
  }
  while (whoAnswers.length === 0 && now() - crashAt < 20_000) {
    askWho();
    await sim.run(100);
  }
  let settleError: string | null = null;
  sim.net.configure({ loss: 0, duplicate: 0 });
  try {
    await sim.until(() => history.ops.every((op) => op.status !== "pending") && sim.quiet(), 60_000, "settling");
  } catch (err) {
    settleError = err instanceof Error ? err.message : String(err);
  }

  const final = sim.slot("n1").node!.map;
  const where = roomsOf(final, { stage: CAPACITY });
  const judged = history.judge(
    (p) => where.get(p) ?? null,
    () => false,
  );
  const ackedBefore = history.ops.filter((op) => op.status === "ok" && op.settledAt! < crashAt).map((op) => op.keys[0]!);
  const firstWho = whoAnswers[0];
  const after = history.ops.filter((op) => op.invokedAt >= crashAt);
  let finalCount = 0;
  for (const room of where.values()) if (room === "stage") finalCount++;
  return {
    owner,
    lost: judged.violations,
    notCaughtUp: firstWho === undefined ? ["no who-is-in answered after the crash"] : ackedBefore.filter((p) => !firstWho.people.includes(p)),
    notServed: after.filter((op) => op.status !== "ok" && op.code !== "room_full").map((op) => history.show(op.id)),
    finalCount,
    capacity: CAPACITY,
    acked: history.ops.filter((op) => op.status === "ok").length,
    ackedAfterCrash: after.filter((op) => op.status === "ok").length,
    firstWhoAfterCrashMs: firstWho === undefined ? null : firstWho.at - crashAt,
    settleError,
  };
}

export interface LotRestartResult {
  owner: string;
  spaces: number;
  finalOccupied: number;
  parkedAfterRestart: number;
  settleError: string | null;
}

/**
 * The lot is full; its owner is killed and restarts a second later under
 * its name (so the lot moves back to it) while cars keep arriving through
 * gates on the other nodes. The lot must still hold at most `spaces` cars:
 * the restarted owner may admit a car only once it has caught up.
 */
export async function runLotOwnerRestart(seed: number): Promise<LotRestartResult> {
  const spaces = 5;
  const sim = await AppSim.start({
    seed: `lot-${seed}`,
    nodes: 5,
    spaces,
    gates: 4,
    callTimeoutMs: 2000,
    network: { reorder: true, delayMinMs: 0.2, delayMaxMs: 3 },
  });
  const owner = sim.slot("n1").parts!.registry.ownerOf("lot");
  const via = owner === "n1" ? "n2" : "n1";
  for (let i = 0; i < spaces; i++) await sim.retry(() => sim.slot(via).node!.app.park(1, `F${i}`), `park F${i}`);
  sim.crash(owner);
  await sim.run(1000);
  sim.restart(owner);
  let parked = 0;
  for (let i = 0; i < 200; i++) {
    const others = sim.ready().filter((s) => s.name !== owner);
    const s = others[i % others.length];
    s?.node?.app.park(1 + (i % 4), `X${i}`).then(
      () => parked++,
      () => {},
    );
    await sim.run(1);
  }
  let settleError: string | null = null;
  try {
    await sim.until(() => sim.quiet(), 30_000, "settling");
  } catch (err) {
    settleError = err instanceof Error ? err.message : String(err);
  }
  return { owner, spaces, finalOccupied: sim.slot("n1").node!.app.lotLocal().occupied, parkedAfterRestart: parked, settleError };
}
