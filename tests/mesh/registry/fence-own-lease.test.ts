/**
 * A fence answer counts the answering node's own lease when it serves under
 * an older epoch (mesh/registry/serving.ts onFenceQuery). The new owner waits
 * for the `need` earliest answers of a majority that meets every old lease's
 * majority; a holder of an old lease can be the one node where they meet.
 * SOAK chaos seed 13630: n1, back 0.1 s between two cuts, regained its lease
 * at epoch 12 and answered n4's fence for 13 with 0 (it had vouched for
 * nobody); n4 waited for nothing, and both served room:hall for ~10 ms.
 */
import { describe, expect, test } from "bun:test";
import { holderConfig, servingRig } from "./serving-rig.ts";

describe("a fence answer counts the answering node's own old lease", () => {
  test("a node serving under epoch 12 with 1,000 ms of lease left answers a fence for 13 with at least 1,000 ms", () => {
    let until = -Infinity;
    const { clock, sent, rights } = servingRig({ self: "n1", servingUntil: () => until });
    rights.onConfig(holderConfig(12, 11, ["n1", "n2", "n3"]));
    until = clock.now() + 1_000;
    rights.onFenceQuery("n4", { t: "fq", q: 7, g: 1, e: 13 });
    const reply = sent.find((s) => s.to === "n4" && s.msg.t === "fr");
    expect((reply?.msg as { w?: number } | undefined)?.w).toBeGreaterThanOrEqual(1_000);
  });

  test("a fence for its own epoch, or a node holding no lease, adds nothing", () => {
    let until = -Infinity;
    const { clock, sent, rights } = servingRig({ self: "n1", servingUntil: () => until });
    rights.onConfig(holderConfig(12, 11, ["n1", "n2", "n3"]));
    until = clock.now() + 1_000;
    rights.onFenceQuery("n4", { t: "fq", q: 1, g: 1, e: 12 });
    until = -Infinity;
    rights.onFenceQuery("n4", { t: "fq", q: 2, g: 1, e: 13 });
    const ws = sent.filter((s) => s.msg.t === "fr").map((s) => (s.msg as { w?: number }).w);
    expect(ws).toEqual([0, 0]);
  });
});
