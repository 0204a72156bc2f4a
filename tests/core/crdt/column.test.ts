import { describe, expect, test } from "bun:test";
import { Column } from "../../../core/crdt/column.ts";

describe("Column (a shard's column in chunks)", () => {
  test("holds each value at its index across chunk boundaries", () => {
    const c = new Column<string>();
    for (let i = 0; i < 1_000; i++) c.push(`v${i}`);
    expect(c.length).toBe(1_000);
    for (const i of [0, 255, 256, 511, 512, 999]) expect(c.at(i)).toBe(`v${i}`);
  });

  test("set overwrites in place and an append at length grows it", () => {
    const c = new Column<number>();
    c.set(0, 1);
    c.set(1, 2);
    c.set(0, 9);
    c.set(2, 3);
    expect([c.at(0), c.at(1), c.at(2), c.length]).toEqual([9, 2, 3, 3]);
  });

  test("a hole reads undefined and keeps the length; past the end reads undefined", () => {
    const c = new Column<string>();
    for (let i = 0; i < 300; i++) c.push(`v${i}`);
    c.set(256, undefined);
    expect(c.at(256)).toBeUndefined();
    expect(c.at(257)).toBe("v257");
    expect(c.length).toBe(300);
    expect(c.at(300)).toBeUndefined();
    expect(c.at(100_000)).toBeUndefined();
  });
});
