/**
 * A message dropped before any of it was written (mesh/tcp/lost-hooks.ts)
 * tells its sender, so a call to a node killed a moment ago fails at once
 * as one with no effect instead of waiting out its timeout; a message that
 * was written never does.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { LostHooks } from "../../../mesh/tcp/lost-hooks.ts";
import { closeAll, freePort, received, startNode } from "./helpers.ts";
import { waitFor } from "./wait.ts";

afterEach(closeAll);

describe("tcp transport: messages dropped unwritten", () => {
  test("a message queued for an address whose dial is refused runs its hook, once", async () => {
    const a = await startNode("a");
    const dead = `127.0.0.1:${await freePort()}`;
    let lost = 0;
    expect(a.t.send(dead, { t: "call" }, () => lost++)).toBe(true);
    await waitFor("the hook", () => lost === 1);
    // A later send to the same address, refused or queued, is told of alone.
    const again = a.t.send(dead, { t: "call" }, () => lost++);
    await waitFor("the second hook", () => lost === 2 || (!again && lost === 1));
    expect(lost).toBe(again ? 2 : 1);
  });

  test("messages written to a live peer never run their hooks, even when the peer then goes away", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    let lost = 0;
    for (let i = 0; i < 200; i++) expect(a.t.send(b.t.local, { t: "call", i }, () => lost++)).toBe(true);
    await waitFor("200 delivered", () => received(b, "call").length === 200);
    await b.t.close();
    await waitFor("a sees b gone", () => a.t.peers().length === 0);
    expect(lost).toBe(0);
  });
});

describe("LostHooks: which queued frames' hooks run", () => {
  const ran: string[] = [];
  const hook = (name: string) => () => void ran.push(name);

  test("only the frames not yet taken when everything is dropped, in order; frames without a hook count for their place", () => {
    ran.length = 0;
    const h = new LostHooks();
    h.add(hook("a"));
    h.add(undefined);
    h.add(hook("c"));
    h.add(hook("d"));
    h.taken(3); // a, (none), c written
    h.add(hook("e"));
    h.dropAll();
    expect(ran).toEqual(["d", "e"]);
    h.dropAll();
    expect(ran).toEqual(["d", "e"]);
  });

  test("a frame taken back (dropLast) takes its hook with it, and only its own", () => {
    ran.length = 0;
    const h = new LostHooks();
    h.add(hook("a"));
    h.add(undefined);
    h.dropLast(); // the hookless frame: a's hook stays
    h.add(hook("b"));
    h.dropLast();
    h.dropAll();
    expect(ran).toEqual(["a"]);
  });

  test("absorbing another queue renumbers its hooks behind ours", () => {
    ran.length = 0;
    const mine = new LostHooks();
    const other = new LostHooks();
    mine.add(hook("m1"));
    other.add(hook("o1"));
    other.add(hook("o2"));
    other.taken(1); // o1 written before the merge
    mine.absorb(other);
    mine.taken(1); // m1
    mine.add(hook("m2"));
    other.dropAll(); // emptied by the merge
    expect(ran).toEqual([]);
    mine.dropAll();
    expect(ran).toEqual(["o2", "m2"]);
  });

  test("a hook that throws does not stop the others", () => {
    ran.length = 0;
    const h = new LostHooks();
    h.add(() => {
      throw new Error("sender's bug");
    });
    h.add(hook("b"));
    h.dropAll();
    expect(ran).toEqual(["b"]);
  });
});
