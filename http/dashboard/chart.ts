/**
 * The dashboard's activity chart: walk-ins per second and lot occupancy
 * over the last minutes, from a ring of samples the page takes each time it
 * polls (no history is kept on the server). Plain SVG, no library. Shipped
 * by its source text like client.ts, so it refers to nothing outside itself.
 */
export interface ActivityChart {
  /** One poll's figures: the node's walk-in counter, cars in the lot, spaces; `at` in ms. */
  add(at: number, walkIns: number, occupied: number, spaces: number): void;
  /** Draw into `root` (its children are replaced). */
  render(root: HTMLElement): void;
}

export function activityChart(windowMs = 300_000, capacity = 600): ActivityChart {
  interface Sample { at: number; rate: number; occupied: number; spaces: number; walkIns: number }
  const ring: Sample[] = [];
  const NS = "http://www.w3.org/2000/svg";
  const W = 300;
  const H = 48;

  const svg = (tag: string, attrs: Record<string, string>): SVGElement => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const fmt = (n: number, digits = 0): string => n.toLocaleString("en-US", { maximumFractionDigits: digits });

  /** One sparkline: a filled area under a line, y scaled to `max`. */
  function spark(id: string, values: { at: number; v: number }[], max: number, now: number, span: number, colour: string): SVGElement {
    const s = svg("svg", { id, viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", class: "spark" });
    s.dataset["points"] = String(values.length);
    s.dataset["max"] = String(max);
    const pts = values.map((p) => {
      const x = Math.max(0, W - ((now - p.at) / span) * W);
      const y = H - 2 - (max > 0 ? Math.min(1, p.v / max) : 0) * (H - 4);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    s.append(svg("line", { x1: "0", x2: String(W), y1: String(H / 2), y2: String(H / 2), class: "grid-line" }));
    if (pts.length >= 2) {
      const first = pts[0]!.split(",")[0]!;
      const last = pts[pts.length - 1]!.split(",")[0]!;
      s.append(svg("path", { d: `M${first},${H} L${pts.join(" L")} L${last},${H} Z`, fill: colour, "fill-opacity": "0.15", stroke: "none" }));
      s.append(svg("polyline", { points: pts.join(" "), fill: "none", stroke: colour, "stroke-width": "1.8", "vector-effect": "non-scaling-stroke", "stroke-linejoin": "round" }));
    }
    return s;
  }

  function row(label: string, value: string, note: string, chart: SVGElement): HTMLElement {
    const r = document.createElement("div");
    r.className = "chart-row";
    const head = document.createElement("div");
    head.className = "chart-head";
    const l = document.createElement("span");
    l.textContent = label;
    const v = document.createElement("b");
    v.textContent = value;
    const n = document.createElement("small");
    n.textContent = note;
    head.append(l, v, n);
    r.append(head, chart);
    return r;
  }

  return {
    add(at: number, walkIns: number, occupied: number, spaces: number): void {
      const prev = ring[ring.length - 1];
      if (prev !== undefined && at <= prev.at) return;
      // A counter that went down belongs to a restarted node: no rate for that step.
      const rate = prev !== undefined && walkIns >= prev.walkIns ? ((walkIns - prev.walkIns) * 1000) / (at - prev.at) : 0;
      ring.push({ at, rate: prev === undefined ? 0 : rate, occupied, spaces, walkIns });
      while (ring.length > capacity || (ring.length > 0 && ring[0]!.at < at - windowMs)) ring.shift();
    },
    render(root: HTMLElement): void {
      const last = ring[ring.length - 1];
      if (last === undefined) {
        root.replaceChildren();
        return;
      }
      const now = last.at;
      // The span grows with the history, from a minute up to the window: a new page is not an empty chart.
      const span = Math.min(windowMs, Math.max(60_000, now - ring[0]!.at));
      const rates = ring.slice(1).map((s) => ({ at: s.at, v: s.rate }));
      const peak = Math.max(0, ...rates.map((p) => p.v));
      const occ = ring.map((s) => ({ at: s.at, v: s.occupied }));
      const secs = Math.round(span / 1000);
      const note = secs < 120 ? `last ${secs} s` : `last ${Math.round(secs / 60)} min`;
      root.replaceChildren(
        row("Walk-ins", `${fmt(last.rate, 1)}/s`, `peak ${fmt(peak, 1)}/s · ${note}`, spark("chart-walkins", rates, Math.max(1, peak), now, span, "var(--accent)")),
        row("Lot", `${fmt(last.occupied)} of ${fmt(last.spaces)}`, note, spark("chart-lot", occ, last.spaces, now, span, "var(--alive)")),
      );
    },
  };
}
