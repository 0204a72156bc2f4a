import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ownerOf, Placement, rankOwners } from "../../core/placement.ts";

const names = Array.from({ length: 10_000 }, (_, i) => `room:${i}`);
const five = ["node-a", "node-b", "node-c", "node-d", "node-e"];

function owners(members: readonly string[]): Map<string, string> {
  const p = new Placement(members);
  return new Map(names.map((n) => [n, p.ownerOf(n)!]));
}

describe("placement", () => {
  test("no members, no owner", () => {
    expect(ownerOf("x", [])).toBeUndefined();
    expect(rankOwners("x", [])).toEqual([]);
    expect(new Placement([]).ownerOf("x")).toBeUndefined();
  });

  test("one member owns everything", () => {
    expect(ownerOf("x", ["solo"])).toBe("solo");
    expect(rankOwners("x", ["solo"])).toEqual(["solo"]);
  });

  test("10k names over 5 members: each within ±10% of a fair share", () => {
    const count = new Map<string, number>();
    for (const o of owners(five).values()) count.set(o, (count.get(o) ?? 0) + 1);
    expect(count.size).toBe(5);
    for (const c of count.values()) {
      expect(c).toBeGreaterThanOrEqual(1800);
      expect(c).toBeLessThanOrEqual(2200);
    }
  });

  test("balanced also for members with similar names and for many members", () => {
    for (const members of [
      ["10.0.0.1:4370", "10.0.0.2:4370", "10.0.0.3:4370", "10.0.0.4:4370", "10.0.0.5:4370"],
      Array.from({ length: 20 }, (_, i) => `roomy-${i}`),
    ]) {
      const count = new Map<string, number>();
      for (const o of owners(members).values()) count.set(o, (count.get(o) ?? 0) + 1);
      const fair = names.length / members.length;
      for (const m of members) {
        // 20 members: 500 each, binomial sd ~22; ±20% is > 4 sd.
        const tol = members.length > 5 ? 0.2 : 0.1;
        expect(Math.abs((count.get(m) ?? 0) - fair)).toBeLessThanOrEqual(fair * tol);
      }
    }
  });

  test("removing a member moves only that member's names", () => {
    const before = owners(five);
    const after = owners(five.filter((m) => m !== "node-c"));
    let moved = 0;
    for (const n of names) {
      if (before.get(n) !== after.get(n)) {
        expect(before.get(n)).toBe("node-c");
        moved++;
      }
    }
    expect(moved).toBe([...before.values()].filter((o) => o === "node-c").length);
  });

  test("adding a member moves names only to the new member, about a fair share", () => {
    const before = owners(five);
    const after = owners([...five, "node-f"]);
    let moved = 0;
    for (const n of names) {
      if (before.get(n) !== after.get(n)) {
        expect(after.get(n)).toBe("node-f");
        moved++;
      }
    }
    expect(moved).toBeGreaterThan((names.length / 6) * 0.9);
    expect(moved).toBeLessThan((names.length / 6) * 1.1);
  });

  test("the order of the member list does not matter", () => {
    const shuffled = ["node-d", "node-b", "node-e", "node-a", "node-c"];
    for (const n of names.slice(0, 500)) {
      expect(ownerOf(n, shuffled)).toBe(ownerOf(n, five));
      expect(rankOwners(n, shuffled)).toEqual(rankOwners(n, five));
    }
  });

  test("rankOwners starts with the owner and lists the successors", () => {
    for (const n of names.slice(0, 500)) {
      const rank = rankOwners(n, five);
      expect(rank[0]).toBe(ownerOf(n, five)!);
      expect([...rank].sort()).toEqual([...five].sort());
      // the successor is who owns the name once the owner is gone
      expect(ownerOf(n, five.filter((m) => m !== rank[0]))).toBe(rank[1]!);
    }
  });

  test("rankOwners takes k, and lists a repeated member once", () => {
    expect(rankOwners("x", five, 2)).toEqual(rankOwners("x", five).slice(0, 2));
    expect(rankOwners("x", five, 0)).toEqual([]);
    expect(rankOwners("x", five, 99)).toHaveLength(5);
    expect(rankOwners("x", ["a", "b", "a", "b", "a"])).toEqual(rankOwners("x", ["a", "b"]));
  });

  test("Placement answers exactly as the functions do", () => {
    const p = new Placement(five);
    for (const n of names.slice(0, 1000)) {
      expect(p.ownerOf(n)).toBe(ownerOf(n, five)!);
      expect(p.rankOwners(n, 3)).toEqual(rankOwners(n, five, 3));
    }
  });

  test("Placement keeps its own copy of the member list", () => {
    const members = [...five];
    const p = new Placement(members);
    const before = p.ownerOf("room:1");
    members.length = 0;
    expect(p.ownerOf("room:1")).toBe(before);
  });

  test("removing any member moves only its names (property)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 2, maxLength: 8 }),
        fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 50 }),
        fc.nat(),
        (members, keys, pick) => {
          const gone = members[pick % members.length]!;
          const rest = members.filter((m) => m !== gone);
          for (const k of keys) {
            const was = ownerOf(k, members)!;
            const now = ownerOf(k, rest)!;
            if (was !== gone) expect(now).toBe(was);
            else expect(now).toBe(rankOwners(k, members)[1]!);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
