import { describe, expect, test } from "bun:test";
import { Awareness } from "../../../mesh/membership/awareness.ts";

describe("awareness (Lifeguard local health)", () => {
  test("starts healthy: timeouts unscaled", () => {
    const a = new Awareness(8);
    expect(a.score).toBe(0);
    expect(a.scale(500)).toBe(500);
  });

  test("failures raise the score and stretch timeouts by (score + 1)", () => {
    const a = new Awareness(8);
    a.apply(1);
    a.apply(2);
    expect(a.score).toBe(3);
    expect(a.scale(500)).toBe(2000);
  });

  test("the score is bounded to [0, max - 1]", () => {
    const a = new Awareness(8);
    a.apply(100);
    expect(a.score).toBe(7);
    expect(a.scale(100)).toBe(800);
    a.apply(-100);
    expect(a.score).toBe(0);
    a.apply(-1);
    expect(a.score).toBe(0);
  });

  test("successes bring it back down one step at a time", () => {
    const a = new Awareness(4);
    a.apply(3);
    a.apply(-1);
    expect(a.score).toBe(2);
  });
});
