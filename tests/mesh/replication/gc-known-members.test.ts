import { describe, expect, test } from "bun:test";
import { Hlc } from "../../../core/crdt/hlc.ts";
import { LwwMap } from "../../../core/crdt/lww-map.ts";
import type { Member } from "../../../mesh/membership/types.ts";
import { TombstoneGc } from "../../../mesh/replication/tombstone-gc.ts";

const member = (name: string, id: string, state: Member["state"]): Member => ({
  name,
  id,
  address: `${name}:1`,
  state,
  incarnation: 0,
});

function withTombstone(): { map: LwwMap; gc: TombstoneGc } {
  const map = new LwwMap();
  const hlc = new Hlc("a-1");
  map.set("person/p", "den", hlc.now(1000));
  const gc = new TombstoneGc(map, 0);
  gc.noteMerged(map.delete("person/p", hlc.now(2000)));
  return { map, gc };
}

describe("tombstone collection remembers members until they leave", () => {
  test("a member that membership reaped (dropped from its table) still blocks collection", () => {
    const { map, gc } = withTombstone();
    // b was seen alive, then dead; it never proved it holds the tombstone.
    expect(gc.collect("a", [member("a", "a-1", "alive"), member("b", "b-1", "alive")], 10_000)).toBe(0);
    expect(gc.collect("a", [member("a", "a-1", "alive"), member("b", "b-1", "dead")], 10_000)).toBe(0);
    // Reaped: membership no longer lists b at all. It may come back from a
    // partition with the old value, so the tombstone must stay.
    expect(gc.collect("a", [member("a", "a-1", "alive")], 10_000)).toBe(0);
    expect(map.tombstones).toBe(1);
  });

  test("once the reaped name proves equality under a new identity, or is seen leaving, collection resumes", () => {
    const { map, gc } = withTombstone();
    gc.collect("a", [member("a", "a-1", "alive"), member("b", "b-1", "alive")], 10_000);
    expect(gc.collect("a", [member("a", "a-1", "alive")], 10_000)).toBe(0);
    // b restarted (new id) and anti-entropy found our digests equal.
    gc.recordEqual("b", "b-2", gc.seq);
    expect(gc.collect("a", [member("a", "a-1", "alive"), member("b", "b-2", "alive")], 10_000)).toBe(1);
    expect(map.tombstones).toBe(0);
  });

  test("a member that left gracefully no longer blocks collection", () => {
    const { map, gc } = withTombstone();
    gc.collect("a", [member("a", "a-1", "alive"), member("b", "b-1", "alive")], 10_000);
    expect(gc.collect("a", [member("a", "a-1", "alive"), member("b", "b-1", "left")], 10_000)).toBe(1);
    expect(map.tombstones).toBe(0);
  });
});
