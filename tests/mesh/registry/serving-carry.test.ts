/**
 * ServingRights: a new epoch that comes while this node still waits out old
 * leases for the last one carries that wait over. Found by soak seed 966: a
 * leader's configuration went {n2, n3} (n2 waiting on n3's word about a lease
 * n3 had vouched to the old owner n1) -> {n2} alone, and the alone branch
 * counted only n2's own vouches, so n2 served n1's names while n1, on n3's
 * vouch, still did.
 */
import { describe, expect, test } from "bun:test";
import { holderConfig as cfg, LEASE_MS, servingRig } from "./serving-rig.ts";

function world() {
  const pulled: number[] = [];
  const { clock, sent, rights } = servingRig({
    self: "n2",
    catchUpFrom: (peers) => {
      pulled.push(clock.now());
      return Promise.resolve(peers.map((name) => ({ name, id: `${name}-id` })));
    },
  });
  return { clock, sent, rights, pulled };
}

describe("serving rights across epochs", () => {
  test("an epoch that comes before a wait for old leases ended waits at least what was left of it (unknown: a lease from then), even alone", () => {
    const { clock, rights, pulled } = world();
    rights.onConfig(cfg(6, 5, ["n2", "n3"]));
    expect(rights.state.kind).toBe("waiting");
    // n3 never answers (declared dead); 20 ms on, the leader commits {n2} alone.
    clock.advance(20);
    rights.onConfig(cfg(7, 6, ["n2"]));
    expect(rights.state.kind).toBe("waiting");
    clock.advance(LEASE_MS - 30);
    expect(rights.state.kind).toBe("waiting"); // n1 may still hold a lease on n3's vouch
    expect(pulled).toEqual([]);
    clock.advance(40); // a lease from t=20
    expect(["fencing", "pulling", "serving"]).toContain(rights.state.kind);
  });

  test("a wait whose end was known carries that end, not a whole lease", () => {
    const { clock, sent, rights } = world();
    rights.onConfig(cfg(6, 5, ["n2", "n3"]));
    const q = sent.find((s) => s.msg.t === "fq")!.msg.q;
    // n3: a vouch it gave at an older epoch runs 300 ms more.
    rights.onFenceReply("n3", { t: "fr", q, g: 1, e: 6, w: 300 });
    expect(rights.state.kind).toBe("waiting");
    clock.advance(20);
    rights.onConfig(cfg(7, 6, ["n2"]));
    clock.advance(260);
    expect(rights.state.kind).toBe("waiting");
    clock.advance(30);
    expect(rights.state.kind).not.toBe("waiting");
  });

  test("a node with nothing left to wait for at the last epoch does not wait at the next (alone, no vouches)", () => {
    const { clock, sent, rights } = world();
    rights.onConfig(cfg(6, 5, ["n2", "n3"]));
    const q = sent.find((s) => s.msg.t === "fq")!.msg.q;
    rights.onFenceReply("n3", { t: "fr", q, g: 1, e: 6, w: 0 });
    expect(rights.state.kind).not.toBe("waiting");
    clock.advance(5);
    rights.onConfig(cfg(7, 6, ["n2"]));
    expect(rights.state.kind).not.toBe("waiting");
  });
});
