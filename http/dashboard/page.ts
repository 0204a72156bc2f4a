/**
 * The dashboard page: one HTML document with its stylesheet and script
 * inline, assembled once. The Content-Security-Policy allows exactly that
 * stylesheet and that script (by hash) and requests to this origin only.
 */
import { sha256Base64 } from "../../adapter/crypto.ts";
import { activityChart } from "./chart.ts";
import { dashboardMain } from "./client.ts";
import { DASHBOARD_CSS } from "./style.ts";

export interface DashboardPage {
  html: string;
  csp: string;
}

let page: DashboardPage | null = null;

export function dashboardPage(): DashboardPage {
  page ??= build();
  return page;
}

function build(): DashboardPage {
  const script = `(${dashboardMain.toString()})(${activityChart.toString()});`;
  const sha = (s: string) => `'sha256-${sha256Base64(s)}'`;
  const csp = [
    "default-src 'none'",
    `script-src ${sha(script)}`,
    `style-src ${sha(DASHBOARD_CSS)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>roomy</title>
<link rel="icon" href="data:,">
<style>${DASHBOARD_CSS}</style>
</head>
<body>
<header>
  <div class="brand"><span class="logo">r</span>roomy</div>
  <div class="node data"><b id="node-name">…</b><span id="node-ready" class="pill state-left">connecting</span><span id="node-mesh" class="mono"></span></div>
  <div class="spacer"></div>
  <span id="stale" class="stale-tag hidden"></span>
  <div id="live" class="live"><span class="dot"></span><span id="live-text">connecting</span></div>
</header>
<div id="error" class="banner hidden"></div>
<div class="layout">
  <aside id="side" class="side data">
    <div id="stats" class="stats"></div>
    <section class="panel">
      <h2>Consensus</h2>
      <div class="card">
        <div class="row"><div class="name">leader <span id="cons-leader" class="mono"></span></div><span id="cons-state" class="pill"></span></div>
        <div id="cons-sub" class="sub mono"></div>
      </div>
    </section>
    <section class="panel">
      <h2>Members <span id="members-count" class="count">0</span></h2>
      <div id="members" class="list"></div>
    </section>
    <section class="panel">
      <h2>Parking</h2>
      <div class="card">
        <div class="big"><span id="lot-occupied">0</span> <small id="lot-unit">cars</small></div>
        <div id="lot-spaces" class="sub"></div>
        <div id="lot-bar"></div>
        <table>
          <thead><tr><th>Gate</th><th>On</th><th>Parked now</th><th class="num">In</th><th class="num">Out</th></tr></thead>
          <tbody id="gates"></tbody>
        </table>
        <div id="cars" class="cars"></div>
      </div>
    </section>
  </aside>
  <main class="main">
    <div id="chart" class="chart data" aria-label="Activity: walk-ins per second and lot occupancy"></div>
    <div class="toolbar">
      <input id="search" type="search" placeholder="Search rooms and people" autocomplete="off" spellcheck="false" aria-label="Search rooms and people">
    </div>
    <section id="people-results" class="found-box data hidden">
      <div class="pager"><h2>People</h2><span id="people-range" class="range"></span><button id="people-prev" type="button">‹</button><button id="people-next" type="button">›</button></div>
      <div id="people-found" class="found-list"></div>
    </section>
    <div class="pager data"><h2>Rooms <span id="rooms-count" class="count">0</span></h2><span id="rooms-range" class="range"></span><button id="rooms-prev" type="button">‹ Prev</button><button id="rooms-next" type="button">Next ›</button></div>
    <div id="rooms-scroll" class="scroll data"><div id="rooms" class="grid"></div></div>
    <footer><span id="updated"></span> · data from <span class="mono">GET /v1/overview</span> · metrics at <span class="mono">/metrics</span></footer>
  </main>
</div>
<dialog id="token-dialog">
  <form id="token-form">
    <h3>Admin token</h3>
    <p>This node needs its admin token (ROOMY_ADMIN_TOKEN) to show its data. It stays in this tab only.</p>
    <p id="token-refused" class="hidden">The node refused the token given.</p>
    <input id="token-input" type="password" autocomplete="off" placeholder="token" required>
    <button type="submit">Show the dashboard</button>
  </form>
</dialog>
<script>${script}</script>
</body>
</html>
`;
  return { html, csp };
}
