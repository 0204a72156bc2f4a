/**
 * The last few writer ids met and two hashes of each, replaced in turn. A
 * bucket of a replica holds every node's writes in turn, so walking one
 * (decoding a snapshot, lww-codec.ts; digesting it, lww-digest.ts) switches
 * writer at nearly every key, and each switch hashed a ~26-character id (a
 * node writes as itself and as its registry: 3 nodes are 6 writers).
 */
export class RecentWriters {
  private readonly ids: (string | undefined)[];
  private readonly hashes: Int32Array;
  private next = 0;

  constructor(private readonly size = 8) {
    this.ids = new Array<string | undefined>(size).fill(undefined);
    this.hashes = new Int32Array(size * 2);
  }

  /** The slot of `id` if kept, else -1. */
  find(id: string): number {
    for (let i = 0; i < this.size; i++) if (this.ids[i] === id) return i;
    return -1;
  }

  /** Keep `id` with its hashes in place of the oldest kept; its slot. */
  add(id: string, first: number, second: number): number {
    const i = this.next;
    this.next = (i + 1) % this.size;
    this.ids[i] = id;
    this.hashes[2 * i] = first;
    this.hashes[2 * i + 1] = second;
    return i;
  }

  /** The id kept in slot `i` (the string given to add). */
  id(i: number): string {
    return this.ids[i]!;
  }

  first(i: number): number {
    return this.hashes[2 * i]!;
  }

  second(i: number): number {
    return this.hashes[2 * i + 1]!;
  }
}
