/**
 * The dashboard in Debian's Chromium against a node loaded with many rooms
 * and people: 10,000 rooms and 100,000 people always; 100,000 rooms and
 * 1,000,000 people with DASHBOARD_SCALE=1 (loading them takes a few seconds
 * and ~1 GB). First paint within 2 s, a search answered within 200 ms, the
 * members and the lot in view without scrolling the page, per-member room
 * counts over every room, paging, stale data dimmed, "1 car", gate bars as
 * a share of the lot, and the activity chart. Screenshots are kept in
 * artifacts/dashboard-scale*.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import type { Served } from "../../adapter/serve.ts";
import { type Node, startNode } from "../../mesh/node/node.ts";
import { ROOT } from "../ship/support/binary.ts";
import { hasChromium, launchChromium, loadReplica, personName, roomName, serveNode } from "./support.ts";

const BIG = process.env["DASHBOARD_SCALE"] === "1";
const ROOMS = BIG ? 100_000 : 10_000;
const PEOPLE = BIG ? 1_000_000 : 100_000;
const TOKEN = "scale-7c1d9e2f";
const ART = join(ROOT, "artifacts");
const shot = (name: string) => join(ART, `dashboard-scale${BIG ? "-1m" : ""}-${name}.png`);
// Besides the loaded ones: two rooms with awkward names, and a small room with a capacity.
const EXTRA_ROOMS = ["__proto__", "constructor", "small"];
const TOTAL_ROOMS = ROOMS + EXTRA_ROOMS.length;
const fmt = (n: number) => n.toLocaleString("en-US");

describe.skipIf(!hasChromium)(`the dashboard with ${fmt(ROOMS)} rooms and ${fmt(PEOPLE)} people`, () => {
  let node: Node;
  let served: Served;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const sorted: string[] = [];

  beforeAll(async () => {
    const t0 = performance.now();
    node = await startNode({ name: "scale", gates: 3, spaces: 12 });
    await loadReplica(node, ROOMS, PEOPLE);
    await node.app.addRooms(["__proto__", "constructor"]);
    await node.app.addRooms(["small"], 4);
    await node.app.walkInto("constructor", ["__proto__", "toString"]);
    await node.app.walkInto("small", ["ada", "bo", "cy"]);
    await node.app.park(2, "ONE CAR");
    sorted.push(...node.roomIndex.rooms());
    console.log(`loaded ${fmt(ROOMS)} rooms and ${fmt(PEOPLE)} people in ${(performance.now() - t0).toFixed(0)} ms`);
    served = serveNode(node, TOKEN);
    browser = await launchChromium();
    mkdirSync(ART, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await served?.stop();
    await node?.stop();
  });

  test("first paint within 2 s, with the members and the lot in view and the rooms scrolling on their own", async () => {
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(20_000);
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error" && /Content Security Policy|Refused/.test(m.text())) pageErrors.push(m.text());
    });
    // Timed in the page, from the start of navigation to the rooms and members drawn
    // (a test process polling over the DevTools protocol would add its own delays).
    await page.addInitScript(() => {
      const w = window as unknown as { __painted?: number };
      new MutationObserver((_, obs) => {
        if (document.querySelector("#rooms [data-room]") !== null && document.querySelector("[data-member] .runs") !== null) {
          w.__painted = performance.now();
          obs.disconnect();
        }
      }).observe(document, { childList: true, subtree: true });
    });
    const t0 = performance.now();
    await page.goto(`${served.url}/#token=${TOKEN}`);
    await page.locator("#rooms [data-room]").first().waitFor();
    await page.locator('[data-member="scale"] .runs').waitFor();
    const paint = await page.evaluate(() => (window as unknown as { __painted?: number }).__painted ?? Infinity);
    console.log(`first paint ${paint.toFixed(0)} ms after navigation started (${(performance.now() - t0).toFixed(0)} ms seen from the test)`);
    expect(paint).toBeLessThan(2_000);

    const layout = await page.evaluate(() => {
      const box = (s: string) => document.querySelector(s)!.getBoundingClientRect();
      const scroll = document.querySelector("#rooms-scroll")!;
      return {
        pageHeight: document.documentElement.scrollHeight,
        viewport: innerHeight,
        member: box('[data-member="scale"]').bottom,
        lot: box("#lot-occupied").bottom,
        roomsScroll: scroll.scrollHeight > scroll.clientHeight,
      };
    });
    expect(layout.pageHeight).toBeLessThanOrEqual(layout.viewport); // the page itself never scrolls
    expect(layout.member).toBeLessThan(layout.viewport);
    expect(layout.lot).toBeLessThan(layout.viewport);
    expect(layout.roomsScroll).toBe(true);
    await page.screenshot({ path: shot("first") });
  }, 60_000);

  test("each member's room count covers every room, not just those drawn", async () => {
    const runs = page.locator('[data-member="scale"] .runs');
    expect(await runs.getAttribute("data-rooms")).toBe(String(TOTAL_ROOMS));
    expect(await runs.textContent()).toBe(`runs ${fmt(TOTAL_ROOMS)} rooms · 3 gates`);
    expect(await page.locator("#rooms-count").textContent()).toBe(fmt(TOTAL_ROOMS));
    expect(await page.locator("#stats").textContent()).toContain(fmt(PEOPLE + 5));
  });

  test("rooms come a page at a time, in name order, with next and previous", async () => {
    const names = () => page.locator("#rooms [data-room]").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset["room"]));
    expect(await names()).toEqual(sorted.slice(0, 48));
    expect(await page.locator("#rooms-range").textContent()).toBe(`1–48 of ${fmt(TOTAL_ROOMS)} rooms`);
    await page.click("#rooms-next");
    await page.locator(`#rooms [data-room="${sorted[48]}"]`).first().waitFor();
    expect(await names()).toEqual(sorted.slice(48, 96));
    expect(await page.locator("#rooms-range").textContent()).toBe(`49–96 of ${fmt(TOTAL_ROOMS)} rooms`);
    await page.click("#rooms-prev");
    await page.locator(`#rooms [data-room="${sorted[0]}"]`).first().waitFor();
    expect(await page.locator("#rooms-prev").isDisabled()).toBe(true);
  }, 30_000);

  test("a search of people and rooms is answered within 200 ms, in any case", async () => {
    // Typed into the page; timed in the page from the keystroke to the answer drawn.
    // The machine running the tests may be busy: the best of a few searches counts.
    const typeAndTime = (q: string) =>
      page.evaluate(async (q) => {
        const input = document.querySelector("#search") as HTMLInputElement;
        const t0 = performance.now();
        input.value = q;
        input.dispatchEvent(new Event("input"));
        for (;;) {
          await new Promise((r) => requestAnimationFrame(r));
          if (document.querySelector(`[data-found="${q.toLowerCase()}"]`) !== null) return performance.now() - t0;
          if (performance.now() - t0 > 10_000) return Infinity;
        }
      }, q);
    const times: number[] = [];
    for (const i of [31337, 777, 4242]) {
      times.push(await typeAndTime(personName(i).toUpperCase()));
      if (times[times.length - 1]! < 200) break;
    }
    console.log(`search drawn in ${times.map((t) => t.toFixed(0)).join(", ")} ms (40 ms of each the typing pause)`);
    expect(Math.min(...times)).toBeLessThan(200);
    const who = 4242;
    const target = personName(who);
    if (!(await page.locator(`[data-found="${target}"]`).isVisible())) expect(await typeAndTime(target)).toBeLessThan(10_000);
    expect(await page.locator(`[data-found="${target}"]`).textContent()).toBe(`${target} in ${roomName(who % ROOMS)}`);
    // Everyone listed holds the query; the count is every match.
    const found = await page.locator("[data-found]").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset["found"]!));
    const expected = Array.from({ length: PEOPLE }, (_, i) => personName(i)).filter((p) => p.includes(target));
    expect(found.length).toBe(Math.min(30, expected.length));
    for (const f of found) expect(f).toContain(target);
    expect(await page.locator("#people-range").textContent()).toBe(`1–${found.length} of ${fmt(expected.length)} people matching`);

    // The server's own answer time, a room search this time.
    const t0 = performance.now();
    const res = await fetch(`${served.url}/v1/overview/rooms?q=ROOM-00424&limit=48`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await res.json()) as { matches: number; rooms: { name: string }[] };
    const serverMs = performance.now() - t0;
    console.log(`GET /v1/overview/rooms?q= answered in ${serverMs.toFixed(1)} ms`);
    expect(serverMs).toBeLessThan(200);
    expect(body.matches).toBe(sorted.filter((r) => r.includes("room-00424")).length);
    await page.screenshot({ path: shot("search") });
  }, 30_000);

  test("rooms and people named __proto__ and constructor are found and shown", async () => {
    await page.fill("#search", "__proto__");
    await page.locator('[data-found="__proto__"]').waitFor();
    expect(await page.locator('[data-found="__proto__"]').textContent()).toBe("__proto__ in constructor");
    await page.locator('#rooms [data-room="__proto__"]').waitFor();
    await page.click('[data-found="__proto__"]'); // shows the person's room
    await page.locator('#rooms [data-room="constructor"] [data-person="toString"]').waitFor();
    expect(await page.locator('#rooms [data-room="constructor"] [data-person]').allTextContents()).toEqual(["__proto__", "toString"]);
    expect(await page.inputValue("#search")).toBe("constructor");
    await page.fill("#search", "");
    await page.locator("#people-results.hidden").waitFor({ state: "attached" });
  }, 30_000);

  test("one car is '1 car', and a gate's bar is its share of the lot's spaces", async () => {
    expect(await page.locator("#lot-occupied").textContent()).toBe("1");
    expect(await page.locator("#lot-unit").textContent()).toBe("car");
    const gate2 = page.locator('[data-gate="2"] .bar');
    expect(Number(await gate2.getAttribute("data-ratio"))).toBeCloseTo(1 / 12, 3);
    expect(await gate2.locator("span").evaluate((s) => (s as HTMLElement).style.width)).toBe("8.3%");
    await node.app.park(3, "TWO CARS");
    await page.locator("#lot-unit", { hasText: /^cars$/ }).waitFor();
    expect(await page.locator("#lot-occupied").textContent()).toBe("2");
    expect(Number(await page.locator('[data-gate="3"] .bar').getAttribute("data-ratio"))).toBeCloseTo(1 / 12, 3);
  }, 30_000);

  test("the activity chart draws walk-ins per second and the lot over time", async () => {
    for (let i = 0; i < 4; i++) {
      await node.app.walkInto(roomName(i), Array.from({ length: 25 }, (_, j) => `walker-${i}-${j}`));
      await page.waitForTimeout(300); // spread over polls, so the rate has several samples
    }
    const walk = page.locator("#chart-walkins");
    await page.waitForFunction(() => Number(document.querySelector("#chart-walkins")?.getAttribute("data-max")) > 1, undefined, { timeout: 10_000 });
    expect(Number(await walk.getAttribute("data-points"))).toBeGreaterThanOrEqual(2);
    expect(await walk.locator("polyline").count()).toBe(1);
    expect(Number(await page.locator("#chart-lot").getAttribute("data-max"))).toBe(12);
    await page.screenshot({ path: shot("chart") });
  }, 30_000);

  test("when the node stops answering, its data is dimmed and marked stale since the last answer", async () => {
    const opacity = (sel: string) => page.locator(sel).evaluate((e) => Number(getComputedStyle(e).opacity));
    expect(await opacity("#rooms-scroll")).toBe(1);
    await page.route("**/v1/overview**", (r) => r.abort());
    await page.locator("body.stale").waitFor({ state: "attached", timeout: 10_000 });
    expect(await page.locator("#stale").textContent()).toMatch(/^stale since \d{1,2}:\d{2}:\d{2}/);
    expect(await page.locator("#stale").isVisible()).toBe(true);
    for (const sel of ["#rooms-scroll", "#side"]) expect(await opacity(sel)).toBeLessThan(0.6);
    await page.screenshot({ path: shot("stale") });
    await page.unroute("**/v1/overview**");
    await page.waitForFunction(() => !document.body.classList.contains("stale"), undefined, { timeout: 10_000 });
    expect(await page.locator("#stale").isVisible()).toBe(false);
  }, 30_000);

  test("the page ran without script errors or Content-Security-Policy refusals", () => {
    expect(pageErrors).toEqual([]);
  });
});
