/**
 * The dashboard's browser code. Written as one self-contained function so it
 * is type-checked with the rest (DOM types) and shipped by its source text
 * (`dashboardMain.toString()`, called with chart.ts's activityChart): no
 * bundler, no build step. It must not refer to anything outside itself.
 *
 * It polls GET /v1/overview about once a second with the admin token (taken
 * once from a `#token=...` fragment, which browsers never send to servers,
 * then kept in sessionStorage; or typed into the dialog after a 401), for
 * one page of rooms (search `q`, `offset`); with a search it also asks
 * GET /v1/overview/people. The members, the lot and the chart sit in a side
 * panel that stays in view; the rooms scroll on their own. When the node
 * stops answering, what is shown is dimmed and marked "stale since" the
 * last answer. Every name is written with textContent, never as HTML.
 */
import type { activityChart } from "./chart.ts";

export function dashboardMain(makeChart: typeof activityChart): void {
  interface Member { name: string; address: string; state: string; incarnation: number }
  interface Room { name: string; owner: string; capacity: number | null; count: number; people: string[] }
  interface Gate { gate: number; owner: string; entries: number; exits: number; parked: number }
  interface Car { plate: string; gate: number; at: string; node: string }
  interface Overview {
    node: { name: string; ready: boolean; mesh: string | null; gates: number; spaces: number };
    members: Member[];
    load: { node: string; rooms: number; gates: number }[];
    rooms: Room[];
    roomCount: number;
    roomMatches: number;
    q: string;
    offset: number;
    peopleCount: number;
    walkIns: number;
    gates: Gate[];
    lot: { spaces: number; occupied: number; available: number };
    recentCars: Car[];
    consensus: { leader: string | null; term: number; generation: number; lot: string; unavailable: string | null };
  }
  interface PeoplePage { q: string; offset: number; matches: number; people: { name: string; room: string | null }[] }

  const POLL_MS = 1000;
  /** After the token dialog was closed without a token, it is shown again this much later. */
  const ASK_AGAIN_MS = 5000;
  const ROOMS_PAGE = 48;
  const PEOPLE_PAGE = 30;
  const CHIPS = 24;
  const TOKEN_KEY = "roomy-admin-token";
  const $ = (id: string): HTMLElement => {
    const e = document.getElementById(id);
    if (e === null) throw new Error(`missing #${id}`);
    return e;
  };
  const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] => {
    const e = document.createElement(tag);
    if (cls !== undefined) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const fill = (parent: HTMLElement, children: Node[]): void => parent.replaceChildren(...children);
  const fmt = (n: number): string => n.toLocaleString("en-US");
  const plural = (n: number, one: string, many = `${one}s`): string => `${fmt(n)} ${n === 1 ? one : many}`;
  const clock = (t: number): string => new Date(t).toLocaleTimeString();

  // The token: from the fragment once (then the fragment is removed from the address bar).
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (m !== null) {
    try {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]!));
    } catch {
      // A fragment that is not percent-encoding (`%E0%A4%A`): no token; the dialog asks for one.
    }
    history.replaceState(null, "", location.pathname + location.search);
  }

  // Each member gets its own colour (by its place among the members), so the
  // node that owns a room or a gate is easy to match with its card.
  const PALETTE = ["#6366f1", "#0ea5e9", "#f97316", "#14b8a6", "#ec4899", "#84cc16", "#a855f7", "#eab308"];
  let colours = new Map<string, string>();
  const colour = (name: string): string => {
    const known = colours.get(name);
    if (known !== undefined) return known;
    let h = 2166136261;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
    return `hsl(${(h >>> 0) % 360} 60% 52%)`;
  };
  const swatch = (name: string): HTMLElement => {
    const s = el("span", "swatch");
    s.style.background = colour(name);
    return s;
  };
  const owner = (name: string): HTMLElement => {
    const o = el("span", "owner");
    o.dataset["owner"] = name;
    o.title = `runs on ${name}`;
    o.append(swatch(name), document.createTextNode(name));
    return o;
  };
  /** A fill bar; `alarm`: turns amber near the limit and red at it (capacities, not shares). */
  const bar = (value: number, max: number, alarm = true): HTMLElement => {
    const b = el("div", "bar");
    const ratio = max > 0 ? Math.min(1, value / max) : 0;
    b.dataset["ratio"] = ratio.toFixed(4);
    if (alarm && ratio >= 1) b.classList.add("full");
    else if (alarm && ratio >= 0.8) b.classList.add("high");
    const s = el("span");
    s.style.width = `${(ratio * 100).toFixed(1)}%`;
    b.append(s);
    return b;
  };
  const stat = (label: string, value: string, suffix?: string): HTMLElement => {
    const c = el("div", "stat");
    const v = el("div", "value", value);
    if (suffix !== undefined) v.append(" ", el("small", undefined, suffix));
    c.append(el("div", "label", label), v);
    return c;
  };

  // What the user asked for: a search and a page of it.
  const search = $("search") as HTMLInputElement;
  let query = "";
  let roomOffset = 0;
  let peopleOffset = 0;
  const chart = makeChart();

  function renderConsensus(o: Overview): void {
    const c = o.consensus;
    $("cons-leader").textContent = c.leader ?? "none";
    const state = $("cons-state");
    state.textContent = c.lot !== "raft" ? `${c.lot} lot` : c.unavailable === null ? "available" : "unavailable";
    state.className = `pill ${c.lot !== "raft" || c.unavailable === null ? "state-alive" : "state-dead"}`;
    state.title = c.unavailable ?? "";
    const sub = `term ${fmt(c.term)} · generation ${c.generation}`;
    $("cons-sub").textContent = c.unavailable === null ? sub : `${sub} · ${c.unavailable}`;
  }

  function renderMembers(o: Overview): void {
    colours = new Map(o.members.map((mb, i) => [mb.name, PALETTE[i % PALETTE.length]!]));
    const load = new Map(o.load.map((l) => [l.node, l]));
    $("members-count").textContent = String(o.members.length);
    fill($("members"), o.members.map((mb) => {
      const c = el("div", "card member");
      c.dataset["member"] = mb.name;
      c.dataset["state"] = mb.state;
      const name = el("div", "name");
      name.append(swatch(mb.name), document.createTextNode(" " + mb.name));
      if (mb.name === o.node.name) name.append(el("span", "you", "this node"));
      const head = el("div", "row");
      head.append(name, el("span", `pill state-${mb.state}`, mb.state));
      const l = load.get(mb.name);
      const runs = el("span", "runs", `runs ${plural(l?.rooms ?? 0, "room")} · ${plural(l?.gates ?? 0, "gate")}`);
      runs.dataset["rooms"] = String(l?.rooms ?? 0);
      const sub = el("div", "sub");
      sub.append(runs, el("span", "mono", `${mb.address} · inc ${mb.incarnation}`));
      c.append(head, sub);
      return c;
    }));
  }

  function renderRooms(o: Overview): void {
    $("rooms-count").textContent = fmt(o.roomCount);
    const first = o.rooms.length === 0 ? 0 : o.offset + 1;
    const shown = o.rooms.length === 0 ? "" : `${fmt(first)}–${fmt(o.offset + o.rooms.length)} of `;
    $("rooms-range").textContent = o.q === "" ? `${shown}${plural(o.roomCount, "room")}` : `${shown}${plural(o.roomMatches, "room")} matching`;
    ($("rooms-prev") as HTMLButtonElement).disabled = o.offset === 0;
    ($("rooms-next") as HTMLButtonElement).disabled = o.offset + o.rooms.length >= o.roomMatches;
    const cards = o.rooms.map((r) => {
      const c = el("div", "card room");
      c.dataset["room"] = r.name;
      const head = el("div", "row");
      head.append(el("div", "name", r.name), owner(r.owner));
      const sub = el("div", "sub", r.capacity === null ? `${fmt(r.count)} inside` : `${fmt(r.count)} of ${fmt(r.capacity)} inside`);
      c.append(head, sub);
      if (r.capacity !== null) c.append(bar(r.count, r.capacity));
      const list = el("div", "people");
      if (r.people.length === 0) list.append(el("span", "empty", "nobody here"));
      for (const p of r.people.slice(0, CHIPS)) {
        const chip = el("span", "person", p);
        chip.dataset["person"] = p;
        chip.title = p;
        list.append(chip);
      }
      const shown = Math.min(CHIPS, r.people.length);
      if (r.count > shown) list.append(el("span", "empty", `and ${fmt(r.count - shown)} more`));
      c.append(list);
      return c;
    });
    if (cards.length === 0) {
      cards.push(el("div", "card empty", o.q !== "" ? "No room matches." : "No rooms yet. Try: roomy add-rooms kitchen living_room"));
    }
    fill($("rooms"), cards);
  }

  function renderPeople(p: PeoplePage | null): void {
    const box = $("people-results");
    box.classList.toggle("hidden", p === null);
    if (p === null) return;
    const first = p.people.length === 0 ? 0 : p.offset + 1;
    const shown = p.people.length === 0 ? "" : `${fmt(first)}–${fmt(p.offset + p.people.length)} of `;
    $("people-range").textContent = `${shown}${plural(p.matches, "person", "people")} matching`;
    ($("people-prev") as HTMLButtonElement).disabled = p.offset === 0;
    ($("people-next") as HTMLButtonElement).disabled = p.offset + p.people.length >= p.matches;
    fill($("people-found"), p.people.length === 0 ? [el("span", "empty", "Nobody matches.")] : p.people.map((x) => {
      const b = el("button", "found");
      b.type = "button";
      b.dataset["found"] = x.name;
      b.append(el("b", undefined, x.name), document.createTextNode(x.room === null ? " · left" : ` in ${x.room}`));
      // Clicking shows the room.
      if (x.room !== null) b.addEventListener("click", () => setQuery(x.room!));
      return b;
    }));
  }

  function renderLot(o: Overview): void {
    $("lot-occupied").textContent = fmt(o.lot.occupied);
    $("lot-unit").textContent = o.lot.occupied === 1 ? "car" : "cars";
    $("lot-spaces").textContent = `of ${plural(o.lot.spaces, "space")} · ${fmt(o.lot.available)} free`;
    fill($("lot-bar"), [bar(o.lot.occupied, o.lot.spaces)]);
    fill($("cars"), o.recentCars.length === 0
      ? [el("div", "empty", "The lot is empty.")]
      : o.recentCars.map((car) => {
        const row = el("div", "car");
        const left = el("span");
        left.append(el("b", undefined, car.plate), document.createTextNode(` via gate ${car.gate}`));
        row.append(left, el("span", "mono", new Date(car.at).toLocaleTimeString()));
        return row;
      }));
    // Each gate's share of the lot's spaces: bars add up to the lot's bar, and one car is a sliver.
    fill($("gates"), o.gates.map((g) => {
      const tr = el("tr");
      tr.dataset["gate"] = String(g.gate);
      const gateCell = el("td");
      gateCell.append(el("b", undefined, `Gate ${g.gate}`));
      const ownerCell = el("td");
      ownerCell.append(owner(g.owner));
      const parkedCell = el("td");
      const wrap = el("div", "row");
      const count = el("span", "mono", fmt(g.parked));
      count.style.minWidth = "3ch";
      const gateBar = bar(g.parked, o.lot.spaces, false);
      gateBar.style.flex = "1";
      wrap.append(count, gateBar);
      parkedCell.append(wrap);
      tr.append(gateCell, ownerCell, parkedCell, el("td", "num", fmt(g.entries)), el("td", "num", fmt(g.exits)));
      return tr;
    }));
  }

  function render(o: Overview, people: PeoplePage | null, at: number): void {
    document.title = `roomy · ${o.node.name}`;
    $("node-name").textContent = o.node.name;
    const ready = $("node-ready");
    ready.textContent = o.node.ready ? "ready" : "not ready";
    ready.className = `pill ${o.node.ready ? "state-alive" : "state-suspect"}`;
    $("node-mesh").textContent = o.node.mesh ?? "cluster of one";
    const alive = o.members.filter((x) => x.state === "alive").length;
    fill($("stats"), [
      stat("Members alive", fmt(alive), `of ${fmt(o.members.length)}`),
      stat("Rooms", fmt(o.roomCount)),
      stat("People in rooms", fmt(o.peopleCount)),
    ]);
    renderConsensus(o);
    renderMembers(o);
    renderRooms(o);
    if (people === null) renderPeople(null);
    renderLot(o);
    chart.add(at, o.walkIns, o.lot.occupied, o.lot.spaces);
    chart.render($("chart"));
    $("updated").textContent = `updated ${clock(at)}`;
  }

  const live = $("live");
  const liveText = $("live-text");
  const dialog = $("token-dialog") as HTMLDialogElement;
  const form = $("token-form") as HTMLFormElement;
  const input = $("token-input") as HTMLInputElement;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let seq = 0;
  let lastGood = 0;

  function setQuery(q: string): void {
    search.value = q;
    query = q.trim();
    roomOffset = 0;
    peopleOffset = 0;
    void poll();
  }
  let typing: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener("input", () => {
    if (typing !== undefined) clearTimeout(typing);
    typing = setTimeout(() => setQuery(search.value), 40);
  });
  const pager = (id: string, step: () => void): void => $(id).addEventListener("click", () => {
    step();
    void poll();
  });
  pager("rooms-prev", () => (roomOffset = Math.max(0, roomOffset - ROOMS_PAGE)));
  pager("rooms-next", () => (roomOffset += ROOMS_PAGE));
  pager("people-prev", () => (peopleOffset = Math.max(0, peopleOffset - PEOPLE_PAGE)));
  pager("people-next", () => (peopleOffset += PEOPLE_PAGE));

  let tokenTried = false;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = "";
    tokenTried = true;
    dialog.close();
    void poll();
  });

  /** Shown data is dimmed and dated while the node does not answer. */
  function stale(why: string): void {
    live.className = "live bad";
    liveText.textContent = "reconnecting";
    const banner = $("error");
    banner.textContent = `Cannot reach the node: ${why}. Retrying…`;
    banner.classList.remove("hidden");
    if (lastGood > 0) {
      document.body.classList.add("stale");
      const s = $("stale");
      s.textContent = `stale since ${clock(lastGood)}`;
      s.classList.remove("hidden");
    }
  }

  async function get<T>(path: string, headers: Record<string, string>): Promise<T | 401> {
    const res = await fetch(path, { headers, cache: "no-store" });
    if (res.status === 401) return 401;
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return (await res.json()) as T;
  }

  async function poll(): Promise<void> {
    if (timer !== undefined) clearTimeout(timer);
    const mine = ++seq; // a newer poll (a search typed meanwhile) wins
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers: Record<string, string> = { accept: "application/json" };
    if (token !== null && token !== "") headers["authorization"] = `Bearer ${token}`;
    const q = encodeURIComponent(query);
    try {
      // People found are drawn as soon as they come, without waiting for the rest.
      const people = query === ""
        ? Promise.resolve(null)
        : get<PeoplePage>(`/v1/overview/people?q=${q}&offset=${peopleOffset}&limit=${PEOPLE_PAGE}`, headers).then((p) => {
          if (p !== 401 && mine === seq) renderPeople(p);
          return p;
        });
      const [o, p] = await Promise.all([get<Overview>(`/v1/overview?q=${q}&offset=${roomOffset}&limit=${ROOMS_PAGE}`, headers), people]);
      if (mine !== seq) return;
      if (o === 401 || p === 401) {
        live.className = "live bad";
        liveText.textContent = "needs the admin token";
        $("token-refused").classList.toggle("hidden", !tokenTried);
        if (!dialog.open) dialog.showModal();
        // Closed without a token (Escape): asked again a little later, never stuck.
        timer = setTimeout(() => void poll(), ASK_AGAIN_MS);
        return;
      }
      tokenTried = false;
      lastGood = Date.now();
      render(o, p, lastGood);
      live.className = o.node.ready ? "live ok" : "live bad";
      liveText.textContent = o.node.ready ? "live" : "live, node not ready";
      const banner = $("error");
      // What a node that is not ready holds may be partial or old (a restart catching up, a node cut off).
      banner.textContent = o.node.ready ? "" : "This node is not ready: what it shows may be incomplete or out of date (its /readyz says why).";
      banner.classList.toggle("hidden", o.node.ready);
      $("stale").classList.add("hidden");
      document.body.classList.remove("stale");
    } catch (err) {
      if (mine !== seq) return;
      stale(err instanceof Error ? err.message : String(err));
    }
    timer = setTimeout(() => void poll(), POLL_MS);
  }
  void poll();
}
