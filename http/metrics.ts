/**
 * GET /metrics: the node's state in Prometheus text, read at scrape time
 * from the node's one typed stats() (mesh/node/stats.ts: membership,
 * registry, replicator, consensus, the mesh transport when there is one,
 * the event loop), the HTTP middleware's counters, the apps and the runtime.
 * Nothing here names a room, person or plate.
 *
 * Each part of the node is one section in SECTIONS, written in that order; a
 * new part is one more function there. Families are written once each
 * (PromText refuses a second), so a name is owned by one section.
 *
 * Values that come from the replicated map (rooms, lot, gate counters, map
 * keys) are the same on every node: aggregate them with max(), not sum().
 */
import { readiness } from "./readiness.ts";
import { realClock } from "../adapter/clock.ts";
import { memoryUse, runtimeName } from "../adapter/process.ts";
import type { MemberState } from "../mesh/membership/types.ts";
import type { Node } from "../mesh/node/node.ts";
import type { ClusterStats, NodeStats } from "../mesh/node/stats.ts";
import type { TcpTransportStats } from "../mesh/tcp/types.ts";
import { VERSION } from "../core/version.ts";
import type { HttpStats } from "./http-stats.ts";
import { PromText, type Sample } from "./prom.ts";

export interface MetricsSources {
  node: Node;
  http: HttpStats;
}

/** What each section reads: the sources, and the node's stats read once for the whole scrape. */
interface MetricsInput extends MetricsSources {
  stats: NodeStats;
}

const STATES: readonly MemberState[] = ["alive", "suspect", "dead", "left"];
const startedAt = realClock.now() / 1000;

/** One part of the node's metrics: writes its families into `p`. */
export type MetricsSection = (p: PromText, src: MetricsInput) => void | Promise<void>;

/** The sections of /metrics, in the order they are written. */
export const SECTIONS: readonly MetricsSection[] = [
  nodeInfo,
  (p, { stats }) => membership(p, stats.membership),
  (p, { stats }) => registry(p, stats.registry),
  (p, { stats }) => replication(p, stats.replication),
  http,
  (p, { node }) => apps(p, node),
  (p, { stats }) => consensus(p, stats.consensus),
  (p, { stats }) => {
    if (stats.transport !== null) transport(p, stats.transport);
  },
  (p, { stats }) => runtime(p, stats),
];

export async function renderMetrics(src: MetricsSources): Promise<string> {
  const p = new PromText();
  const input: MetricsInput = { ...src, stats: src.node.stats() };
  for (const section of SECTIONS) await section(p, input);
  return p.text();
}

function nodeInfo(p: PromText, { node }: MetricsInput): void {
  p.gauge("roomy_node_info", "This node (value 1), with its name, version and runtime as labels.", [
    { labels: { node: node.name, version: VERSION, runtime: runtimeName() }, value: 1 },
  ]);
  p.gauge("roomy_node_ready", "1 when GET /readyz answers 200 (joined, caught up, holding the quorum lease; with the Raft lot, a leader).", readiness(node).ready ? 1 : 0);
}

function http(p: PromText, src: MetricsInput): void {
  p.counter("roomy_http_requests_total", "HTTP requests answered, by method, route pattern and status.", src.http.requests());
  p.histogram("roomy_http_request_duration_seconds", "Time to answer HTTP requests, by route pattern.", src.http.durations());
}

/** The Raft log: the same on every node once caught up except role and lag; alert on roomy_consensus_available == 0. */
function consensus(p: PromText, { status: st, counters: s }: ClusterStats["consensus"]): void {
  p.gauge("roomy_consensus_term", "Current Raft term seen by this node.", st.term);
  p.gauge("roomy_consensus_commit_index", "Highest log index this node knows committed.", st.commit);
  p.gauge("roomy_consensus_applied_index", "Highest log index this node applied to its state machine.", st.applied);
  p.gauge("roomy_consensus_apply_lag", "Committed entries not applied yet on this node (commit - applied).", Math.max(0, st.commit - st.applied));
  p.counter("roomy_consensus_leader_changes_total", "Times this node saw the leader change.", s.leaderChanges);
  p.gauge("roomy_consensus_is_leader", "1 when this node is the Raft leader.", st.role === "leader" ? 1 : 0);
  p.gauge("roomy_consensus_generation", "Current generation (its bootstrap time in ms since the epoch; changes after every voter restarted or roomy recover).", st.generation);
  p.counter("roomy_consensus_generations_started_total", "Generations this node started or joined (a new one means acknowledged state was lost).", s.generationsStarted);
  p.counter("roomy_consensus_generations_ended_total", "Generations this node saw end (every voter restarted, or roomy recover --force).", s.generationsEnded);
  p.gauge("roomy_consensus_epoch", "Epoch of the committed configuration (grows with every membership change).", st.epoch);
  p.gauge("roomy_consensus_voters", "Voters in the committed configuration.", st.voters.length);
  p.gauge("roomy_consensus_available", "1 when consensus writes can be served (a leader is known), 0 when not (see GET /v1/consensus for why).", st.unavailable === null ? 1 : 0);
  p.counter("roomy_consensus_proposals_total", "Commands this node proposed to the log.", s.proposals);
  p.counter("roomy_consensus_proposals_failed_total", "Proposals from this node that answered an error (unavailable, timed out).", s.proposalsFailed);
  p.counter("roomy_consensus_relayed_total", "Proposals and reads of this node handed to a peer because the leader did not answer them (only this node's link to the leader cut, or a leader election).", [
    { labels: { kind: "proposal" }, value: s.proposalsRelayed },
    { labels: { kind: "read" }, value: s.readsRelayed },
  ]);
  p.counter("roomy_consensus_relayed_for_others_total", "Proposals and reads this node relayed to the leader for a peer that could not reach it.", s.relayedForOthers);
}

function runtime(p: PromText, stats: NodeStats): void {
  const lag = stats.loopLag;
  p.gauge("roomy_event_loop_lag_seconds", "How late the latest event-loop lag timer ran (it asks to run every 20 ms; 100 ms on the simulator).", lag.lastMs / 1000);
  p.gauge("roomy_event_loop_lag_max_seconds", `Largest event-loop lag of the last ${lag.windowMs / 1000} s.`, lag.windowMaxMs / 1000);
  p.gauge("roomy_event_loop_stall_max_seconds", "Longest event-loop stall since the node started (largest lag seen).", lag.maxMs / 1000);
  if (lag.maxCpuMs >= 0) p.gauge("roomy_event_loop_stall_max_cpu_seconds", "CPU the process used (all threads) from the tick before the longest stall to its end: well under the tick interval (20 ms) + the stall, it mostly waited for a core.", lag.maxCpuMs / 1000);
  if (lag.maxRanMs >= 0) p.gauge("roomy_event_loop_stall_max_ran_seconds", "Time the event loop's own thread was on a CPU over the same span as roomy_event_loop_stall_max_cpu_seconds (Linux).", lag.maxRanMs / 1000);
  if (lag.maxWaitedMs >= 0) p.gauge("roomy_event_loop_stall_max_waited_seconds", "Time the event loop's own thread was runnable but waited for a CPU (the machine's other work had the cores) over the same span (Linux).", lag.maxWaitedMs / 1000);
  if (lag.ownMaxMs >= 0) p.gauge("roomy_event_loop_stall_own_max_seconds", "Longest event-loop stall since start less the time the loop's thread waited for a CPU in its span, or the time it ran there if more: what the node itself held the loop for (its callbacks or its collector's pauses), had it always had a core (Linux).", lag.ownMaxMs / 1000);
  if (lag.maxFaults >= 0) p.gauge("roomy_event_loop_stall_max_major_faults", "Major page faults of the process over the same span as roomy_event_loop_stall_max_cpu_seconds: a stall with little CPU and many faults waited for the disk (pages the system had reclaimed).", lag.maxFaults);
  const mem = memoryUse();
  p.gauge("process_resident_memory_bytes", "Resident set size.", mem.rss);
  p.gauge("process_heap_used_bytes", "JavaScript heap in use.", mem.heapUsed);
  p.gauge("process_start_time_seconds", "Start time of the process, seconds since the epoch.", Math.floor(startedAt));
}

function membership(p: PromText, s: ClusterStats["membership"]): void {
  p.gauge("roomy_members", "Members this node knows, by state (itself included).", STATES.map((state) => ({ labels: { state }, value: s.members[state] })));
  p.counter("roomy_membership_probes_total", "Direct probes sent.", s.probes);
  p.counter("roomy_membership_probe_failures_total", "Probes that got no ack, directly or indirectly.", s.probeFailures);
  p.counter("roomy_membership_indirect_probes_total", "Indirect probe requests sent.", s.indirectProbes);
  p.counter("roomy_membership_suspicions_total", "Members this node started suspecting.", s.suspicions);
  p.counter("roomy_membership_refutes_total", "Suspicions of this node it refuted.", s.refutes);
  p.counter("roomy_membership_deaths_total", "Members this node declared dead.", s.deaths);
  p.counter("roomy_membership_push_pulls_total", "Full state exchanges.", s.pushPulls);
  p.counter("roomy_membership_messages_sent_total", "Membership messages sent.", s.messagesSent);
  p.counter("roomy_membership_messages_received_total", "Membership messages received.", s.messagesReceived);
  p.counter("roomy_gossip_messages_sent_total", "Gossip messages sent.", s.gossipSent);
  p.counter("roomy_gossip_messages_received_total", "Gossip messages received.", s.gossipReceived);
  p.counter("roomy_membership_updates_received_total", "Membership updates received (piggybacked or gossiped).", s.updatesReceived);
  p.histogram("roomy_membership_probe_rtt_seconds", "Round-trip time of direct probes answered in time.", [s.rtt]);
  p.gauge(
    "roomy_membership_health_score",
    "Lifeguard local health score (awareness): 0 is healthy; each point stretches this node's probe timeouts by one more multiple.",
    s.awareness,
  );
  p.gauge("roomy_membership_broadcasts_queued", "Membership updates waiting to be piggybacked.", s.queued);
  p.gauge(
    "roomy_membership_clock_offset_max_seconds",
    "The largest gap, either way, between this node's clock and a live member's, as direct probes measured it (0 until measured); past 60 s writes are refused.",
    s.clockOffsetMaxMs / 1000,
  );
}

function registry(p: PromText, s: ClusterStats["registry"]): void {
  p.gauge("roomy_registry_processes", "Named processes running on this node.", s.processes);
  p.counter("roomy_registry_handoffs_total", "Processes handed off, by direction.", [
    { labels: { direction: "out" }, value: s.handoffsOut },
    { labels: { direction: "in" }, value: s.handoffsIn },
  ]);
  p.counter("roomy_registry_calls_total", "Process calls made from this node, by where the process ran.", [
    { labels: { target: "local" }, value: s.callsLocal },
    { labels: { target: "remote" }, value: s.callsRemote },
  ]);
  p.counter("roomy_registry_forwards_total", "Calls forwarded to the process's current owner.", s.forwards);
  p.gauge("roomy_registry_handoffs_in_flight", "Handoffs started and not finished.", s.handoffsInFlight);
  p.counter("roomy_registry_conflicts_total", "Duplicate processes resolved after a partition.", s.conflicts);
  p.gauge("roomy_registry_calls_pending", "Calls waiting for a reply.", s.callsPending);
  p.gauge("roomy_registry_lease", "1 while this node holds the quorum lease (may serve).", s.lease ? 1 : 0);
  p.gauge("roomy_registry_epoch", "The committed configuration epoch this node owns names under.", s.epoch);
  p.gauge("roomy_registry_serving", "1 once this node caught up for its epoch and serves every name it owns; 0 while fencing or catching up, or outside the configuration.", s.serving === "serving" ? 1 : 0);
  p.counter("roomy_registry_catch_ups_total", "Catch-ups for a new epoch (one per epoch, from a majority of the holders).", s.catchUps);
  p.counter("roomy_registry_catch_up_failures_total", "Catch-ups for a new epoch that failed and were started over.", s.catchUpFailures);
  p.counter("roomy_registry_calls_expired_total", "Calls dropped on arrival: their caller had already given up (they sat in a cut connection).", s.expiredDropped);
}

function replication(p: PromText, s: ClusterStats["replication"]): void {
  p.gauge("roomy_map_keys", "Live keys in this node's replica.", s.keys);
  p.gauge("roomy_map_tombstones", "Deleted keys still remembered (tombstones).", s.tombstones);
  p.counter("roomy_replication_deltas_sent_total", "Deltas sent to peers.", s.deltasSent);
  p.counter("roomy_replication_deltas_received_total", "Deltas received from peers.", s.deltasReceived);
  p.counter("roomy_replication_anti_entropy_rounds_total", "Anti-entropy rounds started.", s.antiEntropyRounds);
  p.histogram("roomy_replication_write_ack_seconds", "Time for writes to meet their write concern.", [s.ackLatency]);
  p.gauge("roomy_replication_writes_pending", "Writes waiting for their write concern.", s.pendingWrites);
  p.counter("roomy_replication_writes_acknowledged_total", "Writes that met their write concern.", s.writesAcknowledged);
  p.counter("roomy_replication_writes_unavailable_total", "Writes that timed out waiting for their write concern.", s.writesUnavailable);
  p.counter("roomy_replication_retransmits_total", "Deltas sent again for want of an ack.", s.retransmits);
  p.gauge("roomy_replication_peers", "Peers this node replicates to.", s.livePeers);
  p.counter("roomy_replication_tombstones_collected_total", "Tombstones dropped once every node had them.", s.tombstonesCollected);
  p.gauge("roomy_replication_fence", "Writes stamped with an older epoch than this are refused here.", s.fence);
  p.counter("roomy_replication_writes_fenced_total", "Writes refused for an epoch that moved on, by side.", [
    { labels: { side: "ours" }, value: s.writesFenced },
    { labels: { side: "refused_here" }, value: s.writesFencedHere },
  ]);
  p.counter("roomy_read_lease_reads_total", "Reads from this replica, by how they knew it held every acknowledged write: a read lease from every other holder, or the read barrier's round trip.", [
    { labels: { path: "lease" }, value: s.readsLeased },
    { labels: { path: "barrier" }, value: s.readsBarrier },
  ]);
  p.gauge("roomy_read_lease_grants", "Read leases this node granted that run now (its acks list those readers; its writes wait for them).", s.leasesGranted);
  p.counter("roomy_replication_reader_waits_total", "Times a write that met its concern was found still waiting for a reader that holds a read lease.", s.writesWaitedForReaders);
}

async function apps(p: PromText, node: Node): Promise<void> {
  p.gauge("roomy_rooms", "Rooms in the replica.", node.roomIndex.roomCount());
  const lot = node.app.lotLocal();
  p.gauge("roomy_lot_spaces", "Spaces in the lot.", lot.spaces);
  p.gauge("roomy_lot_occupied", "Cars in the lot.", lot.occupied);
  p.gauge("roomy_lot_available", "Free spaces in the lot.", lot.available);
  // The seed's per-gate counters are replicated (written with each car): every node reports the same.
  // The Raft lot reads gates behind a ReadIndex: without a majority there is no
  // answer, and /metrics must still answer (with roomy_consensus_available 0), so the gate samples are left out.
  const gates = await node.app.gates().catch(() => []);
  const per = (f: (g: (typeof gates)[number]) => number): Sample[] => gates.map((g) => ({ labels: { gate: g.gate }, value: f(g) }));
  p.gauge("roomy_lot_parked", "Cars in the lot, by the gate they came through.", per((g) => g.parked));
  p.counter("roomy_gate_entries_total", "Cars admitted through each gate.", per((g) => g.entries));
  p.counter("roomy_gate_exits_total", "Cars let out through each gate.", per((g) => g.exits));
}

function transport(p: PromText, t: TcpTransportStats): void {
  p.counter("roomy_transport_frames_sent_total", "Mesh messages sent.", t.framesSent);
  p.counter("roomy_transport_frames_received_total", "Mesh messages received.", t.framesReceived);
  p.counter("roomy_transport_bytes_sent_total", "Mesh bytes sent, frame headers included.", t.bytesSent);
  p.counter("roomy_transport_bytes_received_total", "Mesh bytes received, frame headers included.", t.bytesReceived);
  p.counter("roomy_transport_writes_total", "Socket writes (batching puts many messages in one).", t.writes);
  p.counter("roomy_transport_drops_total", "Mesh messages dropped (backoff, full queue, too big, lost with a connection).", t.drops);
  p.counter("roomy_transport_auth_failures_total", "Mesh handshakes refused or abandoned (wrong cookie, timeout, garbage).", t.authFailures);
  p.counter("roomy_transport_frame_errors_total", "Connections closed for a malformed frame.", t.frameErrors);
  p.counter("roomy_transport_dials_total", "Connections dialled.", t.dials);
  p.counter("roomy_transport_dial_failures_total", "Dials that failed.", t.dialFailures);
  p.counter("roomy_transport_stalls_total", "Open mesh connections dropped for carrying nothing (a liveness ping unanswered); the next message dials anew.", t.stalls);
  p.gauge("roomy_transport_connections", "Authenticated peer connections open (two per peer: the control and data lanes).", t.connectionsOpen);
  p.gauge("roomy_transport_sockets", "Sockets open, handshaking and closing ones included.", t.socketsOpen);
}
