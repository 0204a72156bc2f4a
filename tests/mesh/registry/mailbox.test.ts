/** Mailboxes: one message at a time per process, answers detached from the turn. */
import { describe, expect, test } from "bun:test";
import { codeOf, tick } from "../../support/outcomes.ts";
import { RoomyError } from "../../../core/errors.ts";
import { createMailbox } from "../../../mesh/registry/mailbox.ts";

describe("mailbox", () => {
  test("runs one job at a time, in arrival order", async () => {
    const mb = createMailbox(100);
    let running = 0;
    let maxRunning = 0;
    const order: number[] = [];
    const jobs = Array.from({ length: 20 }, (_, i) =>
      mb.push(async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await tick();
        order.push(i);
        running--;
        return i;
      }),
    );
    expect(await Promise.all(jobs)).toEqual(order);
    expect(order).toEqual([...Array(20).keys()]);
    expect(maxRunning).toBe(1);
  });

  test("a full mailbox refuses with unavailable and keeps the work it holds", async () => {
    const mb = createMailbox(2);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = mb.push(() => gate); // running, not waiting
    const a = mb.push(() => "a");
    const b = mb.push(() => "b");
    expect(await codeOf(mb.push(() => "c"))).toBe("unavailable");
    release();
    await first;
    expect([await a, await b]).toEqual(["a", "b"]);
  });

  test("a failing job rejects its own caller only", async () => {
    const mb = createMailbox();
    const bad = mb.push(() => {
      throw new RoomyError("room_full", "x");
    });
    const good = mb.push(() => 1);
    expect(await codeOf(bad)).toBe("room_full");
    expect(await good).toBe(1);
  });

  test("idle() waits for the queue to empty", async () => {
    const mb = createMailbox();
    let done = 0;
    for (let i = 0; i < 5; i++) void mb.push(async () => {
      await tick();
      done++;
    });
    await mb.idle();
    expect(done).toBe(5);
    expect(mb.busy).toBe(false);
  });
});

describe("mailbox: detached answers", () => {
  test("a handler that detaches its answer lets the next message run while its caller still waits", async () => {
    const { createMailbox, detach } = await import("../../../mesh/registry/mailbox.ts");
    const box = createMailbox();
    const order: string[] = [];
    let release: (v: string) => void = () => {};
    const slow = new Promise<string>((r) => (release = r));
    const first = box.push(() => {
      order.push("first ran");
      return detach(slow) as unknown as Promise<string>;
    });
    const second = box.push(() => {
      order.push("second ran");
      return "second";
    });
    expect(await second).toBe("second");
    expect(order).toEqual(["first ran", "second ran"]);
    release("first");
    expect(await first).toBe("first");
  });

  test("a detached answer that fails fails its caller only", async () => {
    const { createMailbox, detach } = await import("../../../mesh/registry/mailbox.ts");
    const box = createMailbox();
    const bad = box.push(() => detach(Promise.reject(new Error("no"))) as unknown as Promise<string>);
    const ok = box.push(() => "fine");
    expect(await bad.catch((e: Error) => e.message)).toBe("no");
    expect(await ok).toBe("fine");
  });
});
