/** The dashboard's stylesheet, inlined into the page (no external assets). */
export const DASHBOARD_CSS = `
:root {
  --bg: #f4f6fb; --card: #ffffff; --ink: #172033; --muted: #667085; --line: #e4e7ef;
  --accent: #4f46e5; --accent-soft: #eef0ff;
  --alive: #16a34a; --alive-soft: #dcfce7; --suspect: #d97706; --suspect-soft: #fef3c7;
  --dead: #dc2626; --dead-soft: #fee2e2; --left: #6b7280; --left-soft: #eceef2;
  --shadow: 0 1px 2px rgba(16,24,40,.06), 0 4px 16px rgba(16,24,40,.06);
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1420; --card: #171e2e; --ink: #e6e9f2; --muted: #98a2b3; --line: #263047;
    --accent: #8b85ff; --accent-soft: #242a4a;
    --alive-soft: #123222; --suspect-soft: #3a2a0c; --dead-soft: #3d1414; --left-soft: #252b38;
    --shadow: 0 1px 2px rgba(0,0,0,.3), 0 4px 16px rgba(0,0,0,.25);
  }
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--ink); }
body { font: 14px/1.45 ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
header { position: sticky; top: 0; z-index: 2; display: flex; align-items: center; gap: 16px; padding: 14px 28px;
  background: color-mix(in srgb, var(--card) 88%, transparent); backdrop-filter: blur(8px); border-bottom: 1px solid var(--line); }
.brand { display: flex; align-items: center; gap: 10px; font-weight: 700; font-size: 18px; letter-spacing: -.01em; }
.logo { width: 28px; height: 28px; border-radius: 8px; background: linear-gradient(135deg, #6366f1, #22c55e); display: grid; place-items: center; color: #fff; font-size: 15px; }
.node { color: var(--muted); display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
.spacer { flex: 1; }
.live { display: flex; align-items: center; gap: 8px; color: var(--muted); font-size: 13px; }
.dot { width: 9px; height: 9px; border-radius: 50%; background: var(--left); }
.live.ok .dot { background: var(--alive); box-shadow: 0 0 0 0 rgba(22,163,74,.5); animation: pulse 2s infinite; }
.live.bad .dot { background: var(--dead); }
@keyframes pulse { 0% { box-shadow: 0 0 0 0 rgba(22,163,74,.45); } 70% { box-shadow: 0 0 0 8px rgba(22,163,74,0); } 100% { box-shadow: 0 0 0 0 rgba(22,163,74,0); } }
/* The side panel (numbers, chart, members, lot) stays in view; the rooms scroll on their own. */
html, body { height: 100%; }
body { display: flex; flex-direction: column; overflow: hidden; }
.layout { flex: 1; min-height: 0; display: grid; grid-template-columns: minmax(340px, 400px) 1fr; }
.side { overflow-y: auto; padding: 18px 18px 28px 24px; display: grid; gap: 20px; align-content: start; border-right: 1px solid var(--line); }
.main { min-width: 0; min-height: 0; display: flex; flex-direction: column; gap: 12px; padding: 18px 24px 10px; }
.scroll { flex: 1; min-height: 0; overflow-y: auto; padding: 2px 4px 12px 2px; }
.list { display: grid; gap: 10px; }
.stats { display: grid; grid-template-columns: 0.8fr 0.9fr 1.3fr; gap: 8px; }
.side .stat { padding: 8px 12px; border-radius: 12px; }
.side .stat .label { font-size: 10.5px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.side .stat .value { font-size: 20px; margin-top: 0; white-space: nowrap; }
.side .member { padding: 8px 12px; }
.side .member .sub { margin-top: 2px; justify-content: space-between; }
.side .member .name { font-size: 14px; }
.side .panel h2 { margin-bottom: 8px; }
.side { gap: 16px; }
.toolbar { display: flex; gap: 10px; align-items: center; }
#search { flex: 1; padding: 10px 14px; border-radius: 12px; border: 1px solid var(--line); background: var(--card); color: var(--ink); font: inherit; font-size: 15px; box-shadow: var(--shadow); }
#search:focus { outline: 2px solid var(--accent); outline-offset: 0; }
.pager { display: flex; align-items: center; gap: 8px; }
.pager h2 { margin: 0; flex: none; }
.pager .range { color: var(--muted); font-size: 12.5px; flex: 1; text-align: right; }
.pager button { margin: 0; padding: 5px 12px; font-size: 12.5px; }
.pager button:disabled { opacity: .4; cursor: default; }
.found-box { background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 10px 14px; box-shadow: var(--shadow); display: grid; gap: 8px; max-height: 32vh; overflow-y: auto; }
.found-list { display: flex; flex-wrap: wrap; gap: 6px; }
.found { margin: 0; background: var(--accent-soft); color: var(--muted); border-radius: 999px; padding: 3px 10px; font-size: 12.5px; font-weight: 400; }
.found b { color: var(--ink); font-weight: 600; }
.chart { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; flex: none; }
.chart:empty { display: none; }
.chart-row { background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 10px 14px 6px; box-shadow: var(--shadow); }
.chart-head { display: flex; align-items: baseline; gap: 8px; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .06em; }
.chart-head b { color: var(--ink); font-size: 16px; letter-spacing: -.01em; text-transform: none; }
.chart-head small { margin-left: auto; text-transform: none; letter-spacing: 0; }
.spark { display: block; width: 100%; height: 40px; margin-top: 2px; }
.spark .grid-line { stroke: var(--line); stroke-dasharray: 3 3; }
/* Data whose node stopped answering: dimmed, and dated in the header. */
body.stale .data { opacity: .45; filter: grayscale(.7); }
.stale-tag { background: var(--suspect-soft); color: var(--suspect); border-radius: 999px; padding: 2px 10px; font-size: 12px; font-weight: 600; }
.stat { background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 16px 18px; box-shadow: var(--shadow); }
.stat .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .06em; }
.stat .value { font-size: 28px; font-weight: 700; letter-spacing: -.02em; margin-top: 4px; }
.stat .value small { font-size: 15px; color: var(--muted); font-weight: 500; }
section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .08em; color: var(--muted); margin: 0 0 12px; display: flex; gap: 8px; align-items: baseline; }
section h2 .count { background: var(--accent-soft); color: var(--accent); border-radius: 999px; padding: 1px 8px; font-size: 12px; letter-spacing: 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 12px; align-items: start; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 14px 16px; box-shadow: var(--shadow); min-width: 0; }
.member { border-left: 4px solid var(--left); }
.member[data-state="alive"] { border-left-color: var(--alive); }
.member[data-state="suspect"] { border-left-color: var(--suspect); }
.member[data-state="dead"] { border-left-color: var(--dead); }
.row { display: flex; align-items: center; gap: 8px; justify-content: space-between; }
.name { font-weight: 650; font-size: 15px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.sub { color: var(--muted); font-size: 12.5px; margin-top: 4px; display: flex; gap: 10px; flex-wrap: wrap; }
.pill { display: inline-flex; align-items: center; gap: 6px; border-radius: 999px; padding: 2px 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.pill::before { content: ""; width: 7px; height: 7px; border-radius: 50%; background: currentColor; }
.state-alive { color: var(--alive); background: var(--alive-soft); }
.state-suspect { color: var(--suspect); background: var(--suspect-soft); }
.state-dead { color: var(--dead); background: var(--dead-soft); }
.state-left { color: var(--left); background: var(--left-soft); }
.you { font-size: 11px; color: var(--accent); background: var(--accent-soft); border-radius: 6px; padding: 1px 6px; margin-left: 6px; font-weight: 600; }
.owner { display: inline-flex; align-items: center; gap: 6px; font-size: 12px; color: var(--muted); white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 3px; flex: none; vertical-align: 0; }
.people { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 10px; }
.person { background: var(--accent-soft); color: var(--ink); border-radius: 999px; padding: 3px 10px; font-size: 12.5px; max-width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.empty { color: var(--muted); font-style: italic; font-size: 13px; }
.bar { height: 8px; border-radius: 999px; background: var(--line); overflow: hidden; margin-top: 10px; }
.bar > span { display: block; height: 100%; border-radius: 999px; background: var(--accent); transition: width .4s ease; }
.bar.full > span { background: var(--dead); }
.bar.high > span { background: var(--suspect); }
@media (max-width: 860px) {
  body { overflow: auto; display: block; }
  .layout { display: block; }
  .side { border-right: 0; overflow: visible; }
  .scroll { max-height: 80vh; }
  header { flex-wrap: wrap; }
}
.big { font-size: 34px; font-weight: 750; letter-spacing: -.03em; }
.big small { font-size: 16px; color: var(--muted); font-weight: 500; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-size: 11.5px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); font-weight: 600; padding: 6px 8px; border-bottom: 1px solid var(--line); }
td { padding: 9px 8px; border-bottom: 1px solid var(--line); vertical-align: middle; }
tr:last-child td { border-bottom: 0; }
th.num { text-align: right; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td .bar { margin-top: 0; min-width: 80px; }
.cars { margin-top: 14px; display: grid; gap: 6px; }
.car { display: flex; justify-content: space-between; gap: 10px; font-size: 12.5px; color: var(--muted); }
.car b { color: var(--ink); font-weight: 600; }
.banner { background: var(--dead-soft); color: var(--dead); padding: 8px 28px; font-weight: 600; border-bottom: 1px solid var(--line); }
.hidden { display: none !important; }
dialog { border: 1px solid var(--line); border-radius: 16px; padding: 22px; background: var(--card); color: var(--ink); box-shadow: var(--shadow); width: min(420px, 92vw); }
dialog::backdrop { background: rgba(15,20,32,.45); }
dialog h3 { margin: 0 0 6px; }
dialog p { color: var(--muted); margin: 0 0 14px; }
input[type=password] { width: 100%; padding: 10px 12px; border-radius: 10px; border: 1px solid var(--line); background: var(--bg); color: var(--ink); font: inherit; }
button { margin-top: 12px; border: 0; border-radius: 10px; padding: 9px 16px; background: var(--accent); color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
footer { color: var(--muted); font-size: 12px; text-align: center; flex: none; }
.card table { margin-top: 10px; }
td, th { padding-left: 4px; padding-right: 4px; }
`;
