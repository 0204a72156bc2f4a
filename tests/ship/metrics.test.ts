/**
 * GET /metrics: valid Prometheus text (promtool accepts it) whose families
 * carry the node's state and move with what happens: requests, walks,
 * parking, membership and replication between two real nodes over the TCP
 * mesh.
 */
import { CONSENSUS_FAMILIES } from "../support/consensus-metrics.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import type { Hono } from "hono";
import { createApp } from "../../http/app.ts";
import { formatNumber, PromText } from "../../http/prom.ts";
import { meshCluster } from "../../mesh/node/tcp-parts.ts";
import { type Node, startNode } from "../../mesh/node/node.ts";
import { eventually } from "./support/procs.ts";
import { type PromFamily, parseProm, value } from "./support/prom-parse.ts";

type Families = Map<string, PromFamily>;

/**
 * Debian's promtool (package prometheus). CI installs it and sets
 * CI_REQUIRE_PROMTOOL=1 (or CI): there a missing promtool fails the test;
 * elsewhere the check is skipped with a message.
 */
const PROMTOOL = ["/usr/bin/promtool", "/usr/local/bin/promtool"].find((p) => existsSync(p)) ?? Bun.which("promtool");
const promtoolRequired = process.env["CI_REQUIRE_PROMTOOL"] === "1" || (process.env["CI"] ?? "") !== "";

/** promtool's verdict on an exposition: its exit code and everything it printed (nothing when all is well). */
async function promtoolCheck(text: string): Promise<{ code: number; out: string } | null> {
  if (PROMTOOL === null) {
    const msg = "promtool not found (Debian package prometheus): /metrics not checked by promtool";
    if (promtoolRequired) throw new Error(`${msg}; CI requires it`);
    console.warn(`skipped: ${msg}`);
    return null;
  }
  const proc = Bun.spawn([PROMTOOL, "check", "metrics"], { stdin: new Blob([text]), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: out + err };
}

async function scrape(app: Hono): Promise<Families> {
  const res = await app.request("/metrics");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parseProm(await res.text());
}

const post = (app: Hono, path: string, body: unknown) =>
  app.request(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("the exposition writer", () => {
  test("escapes label values and formats special numbers as Prometheus reads them", () => {
    const text = new PromText().gauge("x", "a \\ help\nline", [{ labels: { l: 'a"b\\c\nd' }, value: Infinity }]).text();
    expect(text).toBe('# HELP x a \\\\ help\\nline\n# TYPE x gauge\nx{l="a\\"b\\\\c\\nd"} +Inf\n');
    expect(parseProm(text).get("x")!.samples[0]!.labels["l"]).toBe('a"b\\c\nd');
    expect([formatNumber(NaN), formatNumber(-Infinity), formatNumber(0.25)]).toEqual(["NaN", "-Inf", "0.25"]);
  });

  test("refuses a family written twice or a bad name", () => {
    expect(() => new PromText().counter("a_total", "h", 1).counter("a_total", "h", 1)).toThrow();
    expect(() => new PromText().counter("1a", "h", 1)).toThrow();
  });

  test("refuses the labels Prometheus reserves for another type: quantile off a summary, le off a histogram's buckets", () => {
    expect(() => new PromText().gauge("g_seconds", "h", [{ labels: { quantile: "0.5" }, value: 1 }])).toThrow(/quantile/);
    expect(() => new PromText().counter("c_total", "h", [{ labels: { le: "1" }, value: 1 }])).toThrow(/le/);
    expect(new PromText().family("s_seconds", "summary", "h", [{ labels: { quantile: "0.5" }, value: 1 }]).text()).toContain('s_seconds{quantile="0.5"} 1');
  });
});

describe("metrics of one node", () => {
  let node: Node;
  let app: Hono;
  beforeAll(async () => {
    node = await startNode({ name: "m1", gates: 2, spaces: 10 });
    app = createApp(node);
  });
  afterAll(() => node.stop());

  test("every family the issue names is present with its type", async () => {
    const f = await scrape(app);
    const want: Record<string, string> = {
      roomy_members: "gauge",
      roomy_registry_processes: "gauge",
      roomy_registry_handoffs_total: "counter",
      roomy_map_keys: "gauge",
      roomy_map_tombstones: "gauge",
      roomy_replication_deltas_sent_total: "counter",
      roomy_replication_deltas_received_total: "counter",
      roomy_http_requests_total: "counter",
      roomy_http_request_duration_seconds: "histogram",
      roomy_lot_spaces: "gauge",
      roomy_lot_occupied: "gauge",
      roomy_lot_parked: "gauge",
      roomy_gate_entries_total: "counter",
      roomy_gate_exits_total: "counter",
      process_resident_memory_bytes: "gauge",
      roomy_event_loop_lag_seconds: "gauge",
      roomy_event_loop_lag_max_seconds: "gauge",
      roomy_event_loop_stall_max_seconds: "gauge",
      ...CONSENSUS_FAMILIES,
    };
    for (const [name, type] of Object.entries(want)) expect({ name, type: f.get(name)?.type }).toEqual({ name, type });
    expect(value(f, "roomy_members", { state: "alive" })).toBe(1);
    expect(value(f, "roomy_lot_spaces")).toBe(10);
    expect(f.get("roomy_node_info")!.samples[0]!.labels).toMatchObject({ node: "m1", runtime: "bun" });
  });

  test("walks, parking and requests move their counters", async () => {
    const before = await scrape(app);
    const keys0 = value(before, "roomy_map_keys")!;
    expect((await post(app, "/v1/rooms", { rooms: ["den", "hall"] })).status).toBe(200);
    expect((await post(app, "/v1/walk-into", { room: "den", people: ["alan", "lucy"] })).status).toBe(200);
    expect((await post(app, "/v1/walk-into", { room: "nowhere", people: ["x"] })).status).toBe(404);
    expect((await post(app, "/v1/gates/1/park", { plate: "AAA 1" })).status).toBe(200);
    expect((await post(app, "/v1/gates/2/park", { plate: "BBB 2" })).status).toBe(200);
    expect((await post(app, "/v1/gates/2/unpark", { plate: "AAA 1" })).status).toBe(200);
    await app.request("/v1/rooms/den/people");

    const f = await scrape(app);
    const req = (route: string, status: string, method = "POST") => value(f, "roomy_http_requests_total", { method, route, status });
    expect(req("/v1/walk-into", "200")).toBe(1);
    expect(req("/v1/walk-into", "404")).toBe(1);
    expect(req("/v1/gates/:gate/park", "200")).toBe(2);
    // Routes are patterns: names never appear in metrics.
    expect(req("/v1/rooms/:room/people", "200", "GET")).toBe(1);
    expect(f.get("roomy_http_requests_total")!.samples.some((s) => JSON.stringify(s.labels).includes("den"))).toBe(false);
    const hist = (sample: string, labels: Record<string, string>) => value(f, "roomy_http_request_duration_seconds", labels, sample);
    expect(hist("roomy_http_request_duration_seconds_count", { route: "/v1/walk-into" })).toBe(2);
    expect(hist("roomy_http_request_duration_seconds_bucket", { route: "/v1/walk-into", le: "+Inf" })).toBe(2);
    const buckets = f.get("roomy_http_request_duration_seconds")!.samples.filter((s) => s.name.endsWith("_bucket") && s.labels["route"] === "/v1/walk-into");
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);

    expect(value(f, "roomy_map_keys")!).toBeGreaterThan(keys0);
    expect(value(f, "roomy_lot_occupied")).toBe(1);
    expect(value(f, "roomy_lot_available")).toBe(9);
    expect(value(f, "roomy_lot_parked", { gate: "1" })).toBe(0);
    expect(value(f, "roomy_lot_parked", { gate: "2" })).toBe(1);
    expect(value(f, "roomy_gate_entries_total", { gate: "1" })).toBe(1);
    expect(value(f, "roomy_gate_entries_total", { gate: "2" })).toBe(1);
    expect(value(f, "roomy_gate_exits_total", { gate: "2" })).toBe(1);
    expect(value(f, "roomy_gate_exits_total", { gate: "1" })).toBe(0);
    expect(value(f, "roomy_rooms")).toBe(2);
    expect(value(f, "roomy_registry_processes")!).toBeGreaterThanOrEqual(4); // 2 rooms, 2 gates (the Raft lot, the default, has no lot process)
    expect(value(f, "roomy_registry_calls_total", { target: "local" })!).toBeGreaterThan(value(before, "roomy_registry_calls_total", { target: "local" })!);
    // A deleted person (leave) is a tombstone.
    await post(app, "/v1/leave", { people: ["lucy"] });
    expect(value(await scrape(app), "roomy_map_tombstones")!).toBeGreaterThanOrEqual(1);
  });
});

describe("metrics of two nodes on the mesh", () => {
  const nodes: Node[] = [];
  const apps: Hono[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const node = await startNode({
        name: `mesh-${i}`,
        bind: "127.0.0.1:0",
        profile: "local",
        join: i === 0 ? [] : [nodes[0]!.meshAddress()!],
        cluster: meshCluster(),
      });
      nodes.push(node);
      apps.push(createApp(node));
    }
  });
  afterAll(async () => {
    for (const n of nodes.reverse()) await n.stop();
  });

  test("members, probes, gossip, transport and replication show up and move", async () => {
    const [a, b] = apps as [Hono, Hono];
    await eventually("both nodes see two alive members", async () => {
      const [fa, fb] = [await scrape(a), await scrape(b)];
      return value(fa, "roomy_members", { state: "alive" }) === 2 && value(fb, "roomy_members", { state: "alive" }) === 2 ? true : undefined;
    });
    const rtt = (f: Families, sample: string, labels: Record<string, string> = {}) => value(f, "roomy_membership_probe_rtt_seconds", labels, sample);
    const fa = await eventually("probes with round trips", async () => {
      const f = await scrape(a);
      return (value(f, "roomy_membership_probes_total") ?? 0) > 0 && (rtt(f, "roomy_membership_probe_rtt_seconds_count") ?? 0) > 0 ? f : undefined;
    });
    // A histogram: every answered probe in +Inf, at most the probes sent, a sum of small round trips.
    expect(fa.get("roomy_membership_probe_rtt_seconds")!.type).toBe("histogram");
    expect(rtt(fa, "roomy_membership_probe_rtt_seconds_bucket", { le: "+Inf" })).toBe(rtt(fa, "roomy_membership_probe_rtt_seconds_count")!);
    expect(rtt(fa, "roomy_membership_probe_rtt_seconds_count")!).toBeLessThanOrEqual(value(fa, "roomy_membership_probes_total")!);
    expect(rtt(fa, "roomy_membership_probe_rtt_seconds_sum")!).toBeGreaterThanOrEqual(0);
    expect(value(fa, "roomy_membership_health_score")).toBeGreaterThanOrEqual(0);
    // Two processes on one machine share its clock: measured within a few ms.
    expect(value(fa, "roomy_membership_clock_offset_max_seconds")).toBeLessThan(0.05);
    expect(value(fa, "roomy_membership_messages_sent_total")!).toBeGreaterThan(0);
    expect(fa.get("roomy_gossip_messages_sent_total")?.type).toBe("counter");
    // Two lanes to the one peer (mesh/tcp/lanes.ts): data, and control (membership, Raft).
    expect(value(fa, "roomy_transport_connections")).toBe(2);
    expect(value(fa, "roomy_transport_frames_sent_total")!).toBeGreaterThan(0);
    expect(value(fa, "roomy_transport_bytes_received_total")!).toBeGreaterThan(0);

    // The room's process writes it, on the room's owner: watch that node.
    const ownerIx = nodes.findIndex((n) => n.name === nodes[0]!.registry.ownerOf("room:mesh-room"));
    const w = apps[ownerIx]!;
    const sentBefore = value(await scrape(w), "roomy_replication_deltas_sent_total")!;
    const res = await eventually("a room created through a", async () => {
      const r = await post(a, "/v1/rooms", { rooms: ["mesh-room"] });
      return r.status === 200 ? r : undefined;
    });
    expect(res.status).toBe(200);
    const fa2 = await scrape(w);
    expect(value(fa2, "roomy_replication_deltas_sent_total")!).toBeGreaterThan(sentBefore);
    expect(value(fa2, "roomy_replication_writes_acknowledged_total")!).toBeGreaterThan(0);
    const ack = (f: Families, sample: string, labels: Record<string, string> = {}) => value(f, "roomy_replication_write_ack_seconds", labels, sample);
    expect(fa2.get("roomy_replication_write_ack_seconds")!.type).toBe("histogram");
    // Every acknowledged write was timed (counted as it met its concern).
    expect(ack(fa2, "roomy_replication_write_ack_seconds_count")).toBe(value(fa2, "roomy_replication_writes_acknowledged_total")!);
    expect(ack(fa2, "roomy_replication_write_ack_seconds_bucket", { le: "+Inf" })).toBe(ack(fa2, "roomy_replication_write_ack_seconds_count")!);
    await eventually("the other node received the delta", async () => {
      const f = await scrape(ownerIx === 0 ? b : a);
      return (value(f, "roomy_replication_deltas_received_total") ?? 0) > 0 && value(f, "roomy_rooms") === 1 ? true : undefined;
    });
  }, 60_000);

  test("reads show by path: the first behind the read barrier, the next under a read lease the other node granted", async () => {
    const [a, b] = apps as [Hono, Hono];
    await eventually("a room created", async () => ((await post(a, "/v1/rooms", { rooms: ["lease-room"] })).status === 200 ? true : undefined));
    const reads = (f: Families, path: string) => value(f, "roomy_read_lease_reads_total", { path }) ?? 0;
    const before = await scrape(a);
    expect(before.get("roomy_read_lease_reads_total")!.type).toBe("counter");
    await eventually("a read under a lease", async () => {
      expect((await a.request("/v1/who-is-in?room=lease-room")).status).toBe(200);
      const f = await scrape(a);
      return reads(f, "lease") > reads(before, "lease") ? true : undefined;
    });
    const after = await scrape(a);
    expect(reads(after, "barrier")).toBeGreaterThan(reads(before, "barrier"));
    expect(value(await scrape(b), "roomy_read_lease_grants")).toBe(1);
    expect((await scrape(b)).get("roomy_replication_reader_waits_total")!.type).toBe("counter");
  }, 60_000);

  test("promtool check metrics accepts both nodes' /metrics after traffic, with nothing to say", async () => {
    const [a] = apps as [Hono, Hono];
    // Traffic that fills the histograms and labelled families: writes, a walk, parking, a 404.
    await eventually("rooms created", async () => ((await post(a, "/v1/rooms", { rooms: ["pt-1", "pt-2"] })).status === 200 ? true : undefined));
    expect((await post(a, "/v1/walk-into", { room: "pt-1", people: ["ann"] })).status).toBe(200);
    expect((await post(a, "/v1/gates/1/park", { plate: "PT 1" })).status).toBe(200);
    expect((await a.request("/no/such/route")).status).toBe(404);
    for (const app of apps) {
      const text = await (await app.request("/metrics")).text();
      // The families promtool used to reject are there, as histograms.
      expect(text).toContain("# TYPE roomy_membership_probe_rtt_seconds histogram");
      expect(text).toContain("# TYPE roomy_replication_write_ack_seconds histogram");
      expect(text).toContain("# TYPE roomy_consensus_leader_changes_total counter");
      const verdict = await promtoolCheck(text);
      if (verdict === null) return;
      expect(verdict).toEqual({ code: 0, out: "" });
    }
  }, 60_000);
});
