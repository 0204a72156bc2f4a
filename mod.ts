/**
 * roomy as a library: start a node, talk to one, or use the CRDT on its own.
 *
 * ```ts
 * import { startNode, createApp, serve, staticRoutes, createClient } from "./mod.ts";
 *
 * const node = await startNode({ name: "a", gates: 4, spaces: 100 });
 * await node.app.addRooms(["kitchen"]);
 * await node.app.walkInto("kitchen", ["alan"]);
 * const app = createApp(node);
 * const http = serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch, routes: staticRoutes(app) });
 * const client = createClient(http.url);
 * console.log(await client.dump()); // { kitchen: ["alan"] }
 * await http.stop();
 * await node.stop();
 * ```
 *
 * @module
 */

// The node.
/** Start a node: its replica, processes, apps; a cluster of one unless a cluster factory is given. */
export { startNode } from "./mesh/node/node.ts";
export type { Node, NodeOptions } from "./mesh/node/node.ts";
export type { NodeConfig, NodeSettings, TlsPaths } from "./mesh/node/config.ts";
export { DEFAULT_BIND, DEFAULT_GATES, DEFAULT_HTTP, DEFAULT_SPACES } from "./mesh/node/config.ts";
/** The seam the cluster layer plugs into, and the cluster of one (the cluster's own parts over a transport that reaches nobody). */
export { localCluster } from "./mesh/node/parts.ts";
export type { Cluster, ClusterContext, ClusterFactory } from "./mesh/node/parts.ts";
export type { App } from "./mesh/apps/app.ts";
export type { RoomsApi } from "./mesh/apps/rooms.ts";
export type { GateInfo, ParkingApi } from "./mesh/apps/parking.ts";
export type { CallOptions, ProcessFactory, ProcessHandlers, Registry, RegistryStats } from "./mesh/registry/types.ts";
export type { ReplicationStats, Replicator, WriteConcern } from "./mesh/replication/types.ts";
export type { Member, MemberEvent, MembershipView, MemberState } from "./mesh/membership/types.ts";
export type { Clock, Logger, Random, Timer } from "./mesh/types.ts";
export { silentLogger } from "./mesh/types.ts";
export { cryptoRandom } from "./adapter/random.ts";
export { realClock } from "./adapter/clock.ts";

// The admin API and its client.
/** The Hono app serving a node's admin API. */
export { createApp, serverRefusal } from "./http/app.ts";
export type { AppOptions } from "./http/app.ts";
/**
 * Serve a fetch handler: our own HTTP/1.1 on Bun.listen under Bun, Deno.serve under Deno. As `roomy node` does:
 * `serve({ ..., routes: staticRoutes(app), maxRequestBodySize: HARD_BODY_CAP_BYTES, refusal: serverRefusal() })`
 * with `app = createApp(node, { serverBodyCap: bodyCap(HARD_BODY_CAP_BYTES) })`;
 * `routes` is optional (Bun then routes the app's exact paths itself).
 */
export { bodyCap, serve } from "./adapter/serve.ts";
export { staticRoutes } from "./http/instrument.ts";
export { HARD_BODY_CAP_BYTES } from "./http/body.ts";
export type { ExactRoute, Served, ServeOptions } from "./adapter/serve.ts";
/** A typed client of a node's admin API. */
export { createClient, DEFAULT_NODE_URL, NoNodeError, RoomyClient } from "./http/client.ts";
export type { ClientOptions, MemberInfo, NodeInfo } from "./http/client.ts";
export type { CrdtDump } from "./http/routes.ts";

// The CRDT and the rules.
/** The delta-state LWW map, its CBOR codec and the hybrid logical clock. */
export { diffBuckets, joinDeltas, LwwMap } from "./core/crdt/lww-map.ts";
export type { Change, Delta, DeltaEntry, Digest, Entry, Value } from "./core/crdt/lww-map.ts";
export { decodeDelta, encodeDelta } from "./core/crdt/lww-codec.ts";
export { compareTs, Hlc } from "./core/crdt/hlc.ts";
export type { Timestamp } from "./core/crdt/hlc.ts";
export type { LotInfo, VehicleRecord } from "./core/parking/parking.ts";
export type { RoomRecord } from "./core/rooms/rooms.ts";
/** Stable error codes (CONTRACT.md, "Error codes") and the error that carries one. */
export { ERROR_CODES, httpStatus, isErrorCode, RoomyError } from "./core/errors.ts";
export type { ErrorCode } from "./core/errors.ts";
export { MAX_NAME_LENGTH, validateName } from "./core/names.ts";
