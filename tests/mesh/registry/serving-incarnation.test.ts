/**
 * ServingRights: a new epoch's catch-up counts a holder only for a pull round
 * answered by the incarnation the configuration holds (the replicator reports
 * the member id of the process that answered each). The replicator pulls by
 * name, so a holder that restarted while it was pulled from was pulled from
 * in its new incarnation, which may hold nothing yet. Found by soak seed 786:
 * n1 (restarted, owner of the rooms at the new epoch) fenced with n2, n2
 * crashed and restarted before n1's pull from it ended, n1's pull completed
 * against the half-filled new n2, and n1 served the rooms as unknown_room.
 * Whether n1 sees the holder live when the pull ends does not matter: the
 * id the pull reports decides (serving-pulled-incarnation.test.ts runs both
 * cases with real replicators on the simulator).
 */
import { describe, expect, test } from "bun:test";
import type { PulledFrom } from "../../../mesh/replication/api.ts";
import { holderConfig, servingRig } from "./serving-rig.ts";

/** A pull round answered by `name`'s process `id` (default: the configuration's). */
const from = (name: string, id = `${name}-id`): PulledFrom => ({ name, id });

const cfg = (epoch: number, names: string[]) => holderConfig(epoch, epoch - 1, names);

function world() {
  /** A name mapped to undefined: not live now (suspected, cut off). */
  const ids = new Map<string, string | undefined>();
  const pulls: { peers: readonly string[]; resolve: (v: PulledFrom[]) => void }[] = [];
  const { clock, sent, rights } = servingRig({
    self: "n1",
    idOf: (n) => (ids.has(n) ? ids.get(n) : `${n}-id`),
    catchUpFrom: (peers) => new Promise<PulledFrom[]>((resolve) => pulls.push({ peers, resolve })),
  });
  /** n2 answers every fence question asked so far (waiting and fencing rounds alike). */
  const answer = (): void => {
    for (const s of sent.filter((x) => x.msg.t === "fq")) rights.onFenceReply("n2", { t: "fr", q: s.msg.q, g: 1, e: s.msg.e, w: 0 });
  };
  return { clock, sent, rights, pulls, ids, answer };
}

describe("a new epoch's catch-up and restarted holders", () => {
  test("a pull that ends after the holder restarted does not make this node serve; it fences again and pulls from the holder as it is then", async () => {
    const { clock, sent, rights, pulls, ids, answer } = world();
    rights.onConfig(cfg(10, ["n1", "n2", "n3"]));
    answer();
    answer();
    expect(rights.state.kind).toBe("pulling");
    expect(pulls.map((p) => [...p.peers])).toEqual([["n2"]]);
    // n2 crashes and comes back under its name; the replicator's pull by name completes with the new, empty n2.
    ids.set("n2", "n2-id2");
    pulls[0]!.resolve([from("n2", "n2-id2")]);
    await Promise.resolve();
    expect(rights.state.kind).not.toBe("serving");
    clock.advance(100);
    expect(rights.state.kind).toBe("fencing");
    // n3, in the incarnation the configuration holds, answers this fence: that pull counts.
    // (the new n2 is no holder of epoch 10: its answers do not count)
    answer();
    expect(rights.state.kind).toBe("fencing");
    const q = sent.filter((x) => x.msg.t === "fq").at(-1)!.msg.q;
    rights.onFenceReply("n3", { t: "fr", q, g: 1, e: 10, w: 0 });
    expect(rights.state.kind).toBe("pulling");
    expect([...pulls[1]!.peers]).toEqual(["n3"]);
    pulls[1]!.resolve([from("n3")]);
    await Promise.resolve();
    expect(rights.state.kind).toBe("serving");
  });

  test("a holder whose configured incarnation answered the pull counts even if it is not live when the pull ends (suspected, cut off)", async () => {
    const { rights, pulls, ids, answer } = world();
    rights.onConfig(cfg(10, ["n1", "n2", "n3"]));
    answer();
    answer();
    ids.set("n2", undefined);
    pulls[0]!.resolve([from("n2")]);
    await Promise.resolve();
    expect(rights.state.kind).toBe("serving");
  });

  test("a holder whose new incarnation answered the pull does not count, though this node no longer sees it (no id to compare) or still sees the old one", async () => {
    for (const seen of [undefined, "n2-id"]) {
      const { rights, pulls, ids, answer } = world();
      rights.onConfig(cfg(10, ["n1", "n2", "n3"]));
      answer();
      answer();
      ids.set("n2", seen);
      pulls[0]!.resolve([from("n2", "n2-id2")]);
      await Promise.resolve();
      expect({ seen, state: rights.state.kind }).toEqual({ seen, state: "pulling" });
    }
  });

  test("a pull from holders still in their incarnation makes this node serve (control)", async () => {
    const { rights, pulls, answer } = world();
    rights.onConfig(cfg(10, ["n1", "n2", "n3"]));
    answer();
    answer();
    expect(rights.state.kind).toBe("pulling");
    pulls[0]!.resolve([from("n2")]);
    await Promise.resolve();
    expect(rights.state.kind).toBe("serving");
  });
});

describe("a configuration holding two incarnations of one name", () => {
  test("the fence counts the answer of the incarnation the node runs now, wherever the configuration lists it (soak seed 562: it took the old one's place, counted nothing from that name and fenced forever)", async () => {
    const ids = new Map<string, string>([["n5", "n5-id2"]]);
    const pulls: { peers: readonly string[]; resolve: (v: PulledFrom[]) => void }[] = [];
    const { sent, rights } = servingRig({
      self: "n2",
      idOf: (n) => ids.get(n) ?? `${n}-id`,
      catchUpFrom: (peers) => new Promise<PulledFrom[]>((resolve) => pulls.push({ peers, resolve })),
    });
    // Holders n2, n3, the crashed n1 and n5's old incarnation (both not yet dropped), and n5's new one.
    const base = holderConfig(16, 15, ["n2", "n3", "n1"]);
    const c = { ...base, holders: [...base.holders, { name: "n5", id: "n5-id" }, { name: "n5", id: "n5-id2" }] };
    ids.set("n1", "n1-id2");
    rights.onConfig(c);
    const reply = (name: string): void => {
      for (const s of sent.filter((x) => x.msg.t === "fq")) rights.onFenceReply(name, { t: "fr", q: s.msg.q, g: 1, e: s.msg.e, w: 0, s: 16 });
    };
    reply("n3");
    reply("n5");
    reply("n3");
    reply("n5");
    // n1 answers in an incarnation the configuration does not hold: it never counts.
    reply("n1");
    expect(rights.state.kind).toBe("pulling");
    expect([...pulls.at(-1)!.peers].sort()).toEqual(["n3", "n5"]);
    pulls.at(-1)!.resolve([from("n3"), from("n5", "n5-id2")]);
    await Promise.resolve();
    expect(rights.state.kind).toBe("serving");
  });
});
