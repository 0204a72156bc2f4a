/**
 * The dashboard's browser code. Written as one self-contained function so it
 * is type-checked with the rest (DOM types) and shipped by its source text
 * (`dashboardMain.toString()`): no bundler, no build step. It must not refer
 * to anything outside itself.
 *
 * It polls GET /v1/overview about once a second with the admin token (taken
 * once from a `#token=...` fragment, which browsers never send to servers,
 * then kept in sessionStorage; or typed into the dialog after a 401). Every
 * name is written with textContent, never as HTML.
 */
export function dashboardMain(): void {
  interface Member { name: string; address: string; state: string; incarnation: number }
  interface Room { name: string; owner: string; capacity: number | null; count: number; people: string[] }
  interface Gate { gate: number; owner: string; entries: number; exits: number; parked: number }
  interface Car { plate: string; gate: number; at: string; node: string }
  interface Overview {
    node: { name: string; ready: boolean; mesh: string | null; gates: number; spaces: number };
    members: Member[];
    rooms: Room[];
    roomCount: number;
    gates: Gate[];
    lot: { spaces: number; occupied: number; available: number };
    recentCars: Car[];
  }

  const POLL_MS = 1000;
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

  // The token: from the fragment once (then the fragment is removed from the address bar).
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (m !== null) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]!));
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
  /** A fill bar; `alarm`: turns amber near the limit and red at it (capacities, not comparisons). */
  const bar = (value: number, max: number, alarm = true): HTMLElement => {
    const b = el("div", "bar");
    const ratio = max > 0 ? Math.min(1, value / max) : 0;
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

  function render(o: Overview): void {
    document.title = `roomy · ${o.node.name}`;
    $("node-name").textContent = o.node.name;
    const ready = $("node-ready");
    ready.textContent = o.node.ready ? "ready" : "not ready";
    ready.className = `pill ${o.node.ready ? "state-alive" : "state-suspect"}`;
    $("node-mesh").textContent = o.node.mesh ?? "cluster of one";

    const alive = o.members.filter((x) => x.state === "alive").length;
    const people = o.rooms.reduce((n, r) => n + r.count, 0);
    fill($("stats"), [
      stat("Members alive", fmt(alive), `of ${fmt(o.members.length)}`),
      stat("Rooms", fmt(o.roomCount)),
      stat("People in rooms", fmt(people)),
      stat("Lot", fmt(o.lot.occupied), `of ${fmt(o.lot.spaces)}`),
    ]);

    colours = new Map(o.members.map((mb, i) => [mb.name, PALETTE[i % PALETTE.length]!]));
    const owns = new Map<string, { rooms: number; gates: number }>();
    const own = (n: string) => {
      let e = owns.get(n);
      if (e === undefined) owns.set(n, (e = { rooms: 0, gates: 0 }));
      return e;
    };
    for (const r of o.rooms) own(r.owner).rooms++;
    for (const g of o.gates) own(g.owner).gates++;
    const plural = (n: number, one: string) => `${fmt(n)} ${one}${n === 1 ? "" : "s"}`;

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
      const sub = el("div", "sub mono");
      sub.append(el("span", undefined, mb.address), el("span", undefined, `inc ${mb.incarnation}`));
      const load = own(mb.name);
      c.append(head, sub, el("div", "sub", `runs ${plural(load.rooms, "room")} · ${plural(load.gates, "gate")}`));
      return c;
    }));

    $("rooms-count").textContent = String(o.roomCount);
    const rooms = o.rooms.map((r) => {
      const c = el("div", "card room");
      c.dataset["room"] = r.name;
      const head = el("div", "row");
      head.append(el("div", "name", r.name), owner(r.owner));
      const sub = el("div", "sub", r.capacity === null ? `${fmt(r.count)} inside` : `${fmt(r.count)} of ${fmt(r.capacity)} inside`);
      c.append(head, sub);
      if (r.capacity !== null) c.append(bar(r.count, r.capacity));
      const list = el("div", "people");
      if (r.people.length === 0) list.append(el("span", "empty", "nobody here"));
      for (const p of r.people) {
        const chip = el("span", "person", p);
        chip.dataset["person"] = p;
        chip.title = p;
        list.append(chip);
      }
      if (r.count > r.people.length) list.append(el("span", "empty", `and ${fmt(r.count - r.people.length)} more`));
      c.append(list);
      return c;
    });
    if (o.roomCount > o.rooms.length) rooms.push(el("div", "card empty", `and ${fmt(o.roomCount - o.rooms.length)} more rooms`));
    if (rooms.length === 0) rooms.push(el("div", "card empty", "No rooms yet. Try: roomy add-rooms kitchen living_room"));
    fill($("rooms"), rooms);

    $("lot-occupied").textContent = fmt(o.lot.occupied);
    $("lot-spaces").textContent = `of ${fmt(o.lot.spaces)} spaces · ${fmt(o.lot.available)} free`;
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
    const busiest = Math.max(1, ...o.gates.map((g) => g.parked));
    fill($("gates"), o.gates.map((g) => {
      const tr = el("tr");
      tr.dataset["gate"] = String(g.gate);
      const gateCell = el("td", undefined);
      gateCell.append(el("b", undefined, `Gate ${g.gate}`));
      const ownerCell = el("td");
      ownerCell.append(owner(g.owner));
      const parkedCell = el("td");
      const wrap = el("div", "row");
      const count = el("span", "mono", fmt(g.parked));
      count.style.minWidth = "3ch";
      const gateBar = bar(g.parked, busiest, false);
      gateBar.style.flex = "1";
      wrap.append(count, gateBar);
      parkedCell.append(wrap);
      tr.append(gateCell, ownerCell, parkedCell, el("td", "num", fmt(g.entries)), el("td", "num", fmt(g.exits)));
      return tr;
    }));
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  }

  const live = $("live");
  const liveText = $("live-text");
  const dialog = $("token-dialog") as HTMLDialogElement;
  const form = $("token-form") as HTMLFormElement;
  const input = $("token-input") as HTMLInputElement;
  let timer: ReturnType<typeof setTimeout> | undefined;

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = "";
    dialog.close();
    void poll();
  });

  async function poll(): Promise<void> {
    if (timer !== undefined) clearTimeout(timer);
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers: Record<string, string> = { accept: "application/json" };
    if (token !== null && token !== "") headers["authorization"] = `Bearer ${token}`;
    try {
      const res = await fetch("/v1/overview", { headers, cache: "no-store" });
      if (res.status === 401) {
        live.className = "live bad";
        liveText.textContent = "needs the admin token";
        if (!dialog.open) dialog.showModal();
        return; // resumes when a token is submitted
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      render((await res.json()) as Overview);
      live.className = "live ok";
      liveText.textContent = "live";
      $("error").classList.add("hidden");
    } catch (err) {
      live.className = "live bad";
      liveText.textContent = "reconnecting";
      const banner = $("error");
      banner.textContent = `Cannot reach the node: ${err instanceof Error ? err.message : String(err)}. Retrying…`;
      banner.classList.remove("hidden");
    }
    timer = setTimeout(() => void poll(), POLL_MS);
  }
  void poll();
}
