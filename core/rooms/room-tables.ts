/**
 * Two tables of the room index (room-index.ts) shaped for a million people
 * and 100k rooms without a long turn of the event loop: person key -> room
 * in shards (no JS Map of a million entries to rehash at once), and the
 * sorted room list kept by merging in what changed (a new room costs a
 * merge, not a sort of every name).
 */

const SHARD_BITS = 6;

/** Person key -> the room it names, split over 2^SHARD_BITS Maps by a hash of the key. */
export class PersonRooms {
  private readonly maps: Map<string, string>[] = Array.from({ length: 1 << SHARD_BITS }, () => new Map<string, string>());

  get(key: string): string | undefined {
    return this.maps[shardOf(key)]!.get(key);
  }

  set(key: string, room: string): void {
    this.maps[shardOf(key)]!.set(key, room);
  }

  delete(key: string): void {
    this.maps[shardOf(key)]!.delete(key);
  }

  get size(): number {
    let n = 0;
    for (const m of this.maps) n += m.size;
    return n;
  }
}

/** FNV-1a over the key's characters, folded to SHARD_BITS bits. */
function shardOf(key: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 16) ^ (h >>> SHARD_BITS)) & ((1 << SHARD_BITS) - 1);
}

/**
 * A set of names read as one sorted list. Additions wait in a side list
 * until the next read, which sorts only them and merges them in; removals
 * (rare: a room deleted) are filtered out at that read.
 */
export class SortedNames {
  private list: string[] = [];
  private added: string[] = [];
  private readonly removed = new Set<string>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Add `name`, which is not in the set. */
  add(name: string): void {
    this.count++;
    // Removed and back before a read: the listed copy stands.
    if (!this.removed.delete(name)) this.added.push(name);
  }

  /** Remove `name`, which is in the set. */
  delete(name: string): void {
    this.count--;
    this.removed.add(name);
  }

  /** The names, sorted: the caller must not change the array. */
  sorted(): readonly string[] {
    if (this.added.length === 0 && this.removed.size === 0) return this.list;
    const add = this.added.sort();
    const old = this.list;
    const out: string[] = new Array(old.length + add.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < old.length && j < add.length) out[k++] = old[i]! <= add[j]! ? old[i++]! : add[j++]!;
    while (i < old.length) out[k++] = old[i++]!;
    while (j < add.length) out[k++] = add[j++]!;
    this.list = this.removed.size === 0 ? out : out.filter((n) => !this.removed.has(n));
    this.added = [];
    this.removed.clear();
    return this.list;
  }
}
