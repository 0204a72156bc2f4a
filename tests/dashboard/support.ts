/**
 * Helpers for the dashboard tests: a node loaded with many rooms and people
 * in-process (the HTTP API would take minutes for a million people), served
 * on a free loopback port, and Debian's Chromium through playwright-core.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import type { Write } from "../../core/crdt/map-view.ts";
import { personKey, roomKey } from "../../core/rooms/keys.ts";
import { createApp } from "../../http/app.ts";
import { staticRoutes } from "../../http/instrument.ts";
import { type Served, serve } from "../../adapter/serve.ts";
import type { Node } from "../../mesh/node/node.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  const msg = `dashboard tests need ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`;
  if (process.env["CI_REQUIRE_CHROMIUM"] === "1") throw new Error(msg);
  console.warn(`SKIPPED: ${msg}`);
}

export const roomName = (i: number): string => `room-${String(i).padStart(6, "0")}`;
export const personName = (i: number): string => `person-${i}`;

/**
 * `rooms` rooms without a capacity and `people` people spread over them
 * (person i in room i mod rooms), written straight into the node's replica
 * in large deltas: the rooms app's index picks them up from the changes, as
 * it does for writes merged from a peer.
 */
export async function loadReplica(node: Node, rooms: number, people: number, batch = 50_000): Promise<void> {
  let writes: Write[] = [];
  const flush = async (): Promise<void> => {
    if (writes.length > 0) await node.write(writes);
    writes = [];
  };
  for (let i = 0; i < rooms; i++) {
    writes.push({ key: roomKey(roomName(i)), value: { capacity: null } });
    if (writes.length >= batch) await flush();
  }
  for (let i = 0; i < people; i++) {
    writes.push({ key: personKey(personName(i)), value: roomName(i % rooms) });
    if (writes.length >= batch) await flush();
  }
  await flush();
}

/** The node's admin API on a free loopback port, as `roomy node` serves it. */
export function serveNode(node: Node, adminToken?: string): Served {
  const app = createApp(node, adminToken === undefined ? {} : { adminToken });
  return serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch, routes: staticRoutes(app) });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    timeout: 60_000,
  });
}
