/**
 * The leader's view of one follower (progress.ts): a refusal moves the next
 * append back toward the follower's hint; a follower that holds less than it
 * once acknowledged (its log reset under the same id: it left its
 * generation and was added again, hostile-restart-generation) is believed,
 * or every append would start above its empty log forever.
 */
import { expect, test } from "bun:test";
import { acked, newProgress, refused } from "../../../mesh/consensus/progress.ts";

test("a refusal sends the next append from the follower's hint, never below what it acknowledged", () => {
  const p = newProgress(1);
  acked(p, 40);
  p.next = 60;
  refused(p, 50);
  expect(p.next).toBe(51);
  expect(p.match).toBe(40);
  refused(p, 45);
  expect(p.next).toBe(46);
});

test("a follower whose log was reset under the same id is sent appends from its hint again", () => {
  const p = newProgress(1);
  acked(p, 500);
  expect(p.match).toBe(500);
  refused(p, 0);
  expect(p.match).toBe(0);
  expect(p.next).toBe(1);
  expect(p.mode.kind).toBe("probe");
});
