/** How client commands print their results (CONTRACT.md, "Client commands"). */
import type { LotInfo } from "../core/parking/parking.ts";
import type { GateInfo } from "../mesh/apps/parking.ts";
import type { MemberInfo } from "../http/client.ts";
import { orderedJson } from "../http/json.ts";

export function okText(json: boolean): string {
  return json ? '{"ok":true}\n' : "ok\n";
}

/** One per line, or a JSON array. */
export function listText(items: readonly string[], json: boolean): string {
  if (json) return orderedJson(items) + "\n";
  return items.map((i) => i + "\n").join("");
}

/** The room, or nothing at all. */
export function whereText(room: string | null, json: boolean): string {
  if (json) return orderedJson({ room }) + "\n";
  return room === null ? "" : room + "\n";
}

export function jsonText(value: unknown): string {
  return orderedJson(value) + "\n";
}

export function membersText(members: readonly MemberInfo[], json: boolean): string {
  if (json) return jsonText(members.map((m) => ({ name: m.name, address: m.address, state: m.state, incarnation: m.incarnation })));
  return table(
    ["NAME", "ADDRESS", "STATE", "INCARNATION"],
    members.map((m) => [m.name, m.address, m.state, String(m.incarnation)]),
  );
}

export function lotText(lot: LotInfo, json: boolean): string {
  if (json) return jsonText(lot);
  let out = `spaces: ${lot.spaces}, occupied: ${lot.occupied}, available: ${lot.available}\n`;
  const plates = Object.keys(lot.vehicles).sort();
  if (plates.length > 0) {
    out += table(
      ["PLATE", "GATE", "AT", "NODE"],
      plates.map((p) => {
        const v = lot.vehicles[p]!;
        return [p, String(v.gate), v.at, v.node];
      }),
    );
  }
  return out;
}

export function gatesText(gates: readonly GateInfo[], json: boolean): string {
  if (json) return jsonText(gates);
  return table(
    ["GATE", "OWNER", "ENTRIES", "EXITS", "PARKED"],
    gates.map((g) => [String(g.gate), g.owner, String(g.entries), String(g.exits), String(g.parked)]),
  );
}

/** Columns padded to their widest cell, two spaces apart. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ") + "\n";
  return line(header) + rows.map(line).join("");
}
