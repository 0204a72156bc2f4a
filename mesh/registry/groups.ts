/**
 * Process groups (Swarm's join/leave/members/publish/multi_call). Who is in a
 * group lives in the replicated map, key `group/<g>/<name>` -> true, so every
 * node sees the same members and a member outlives the node that joined it.
 * An index kept current from the map's changes makes members() cheap.
 */
import { RoomyError } from "../../core/errors.ts";
import type { Hlc } from "../../core/crdt/hlc.ts";
import type { Delta } from "../../core/crdt/lww-map.ts";
import type { Replicator } from "../replication/types.ts";
import type { Clock } from "../types.ts";
import type { CallOptions } from "./types.ts";

const PREFIX = "group/";

export interface Groups {
  join(group: string, name: string): Promise<void>;
  leave(group: string, name: string): Promise<void>;
  members(group: string): string[];
  publish(group: string, msg: unknown): void;
  multiCall<R>(group: string, msg: unknown, opts?: CallOptions): Promise<R[]>;
  stop(): void;
}

/** The map key of a group member. */
export function groupKey(group: string, name: string): string {
  return `${PREFIX}${group}/${name}`;
}

function check(group: string, name?: string): void {
  // A "/" in the group would make `group/a/b/c` ambiguous between groups.
  if (group.length === 0 || group.includes("/")) {
    throw new RoomyError("bad_request", `group name must be non-empty and contain no "/": ${JSON.stringify(group)}`);
  }
  if (name !== undefined && name.length === 0) throw new RoomyError("bad_request", "process name must not be empty");
}

export function createGroups(opts: {
  replicator: Replicator;
  hlc: Hlc;
  clock: Clock;
  call<R>(name: string, msg: unknown, opts?: CallOptions): Promise<R>;
  cast(name: string, msg: unknown): void;
}): Groups {
  const { replicator, hlc, clock } = opts;
  const index = new Map<string, Set<string>>();

  function note(key: string, present: boolean): void {
    if (!key.startsWith(PREFIX)) return;
    const slash = key.indexOf("/", PREFIX.length);
    if (slash < 0) return;
    const g = key.slice(PREFIX.length, slash);
    const n = key.slice(slash + 1);
    let set = index.get(g);
    if (present) {
      if (set === undefined) index.set(g, (set = new Set()));
      set.add(n);
    } else if (set !== undefined) {
      set.delete(n);
      if (set.size === 0) index.delete(g);
    }
  }

  for (const [k, v] of replicator.map.withPrefix(PREFIX)) note(k, v === true);
  const unsubscribe = replicator.onChange((changes) => {
    for (const c of changes) if (c.key.startsWith(PREFIX)) note(c.key, c.value === true);
  });

  /** A timestamp later than anything this replica holds for `key`, so this write wins. */
  function stamp(key: string) {
    const cur = replicator.map.entry(key);
    if (cur !== undefined) {
      try {
        hlc.observe(cur.ts, clock.now());
      } catch {
        // A timestamp far in the future: ours may lose to it, which is what LWW says.
      }
    }
    return hlc.now(clock.now());
  }

  function members(group: string): string[] {
    check(group);
    const set = index.get(group);
    return set === undefined ? [] : [...set].sort();
  }

  return {
    join(group: string, name: string): Promise<void> {
      try {
        check(group, name);
      } catch (err) {
        return Promise.reject(err);
      }
      const key = groupKey(group, name);
      const delta: Delta = { e: [{ k: key, ts: stamp(key), v: true }] };
      return replicator.write(delta);
    },
    leave(group: string, name: string): Promise<void> {
      try {
        check(group, name);
      } catch (err) {
        return Promise.reject(err);
      }
      const key = groupKey(group, name);
      const delta: Delta = { e: [{ k: key, ts: stamp(key), d: true }] };
      return replicator.write(delta);
    },
    members,
    publish(group: string, msg: unknown): void {
      for (const n of members(group)) opts.cast(n, msg);
    },
    async multiCall<R>(group: string, msg: unknown, callOpts?: CallOptions): Promise<R[]> {
      const names = members(group);
      const settled = await Promise.allSettled(names.map((n) => opts.call<R>(n, msg, callOpts)));
      const out: R[] = [];
      for (const s of settled) if (s.status === "fulfilled") out.push(s.value);
      return out;
    },
    stop: unsubscribe,
  };
}
