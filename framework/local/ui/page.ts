/**
 * The live view's one page: self-contained HTML with inline CSS and JS (no CDN, no build step).
 * The topology and its layout are embedded as JSON; the script draws them as SVG once, then
 * follows `/api/events` (Server-Sent Events, one snapshot a second) and updates the figures in
 * place, falling back to polling `/api/snapshot` when the event stream is unavailable.
 * Every name from the pipeline goes into the DOM as text, never as markup.
 */
import type { TopologyDescription } from '../../topology/describe.js';
import { LAYOUT, type GraphLayout } from './layout.js';

/** The HTML of the page for a topology and its layout. */
export function renderPage(description: TopologyDescription, layout: GraphLayout): string {
  const data = jsonForScript({ description, layout, sizes: LAYOUT });
  const title = escapeHtml(`sluice dev · ${description.app}`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${CSS}</style>
</head>
<body>
<header>
  <h1>sluice dev <span class="app">${escapeHtml(description.app)}</span> <span class="mode">${escapeHtml(description.mode)}</span></h1>
  <div id="status" class="status">connecting…</div>
</header>
<main>
  <section class="graph"><svg id="graph" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="topology of ${escapeHtml(description.app)}"></svg></section>
  <section>
    <h2>Tasks</h2>
    <table id="tasks"><thead><tr><th>stage</th><th>task</th><th>input</th><th class="n">in</th><th class="n">in/s</th><th class="n">out</th><th class="n">out/s</th><th class="n">end</th><th class="n">lag</th><th>watermark (UTC)</th><th>idle</th><th class="n">dlq</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Topics</h2>
    <table id="topics"><thead><tr><th>topic</th><th>role</th><th class="n">partitions</th><th class="n">end offsets (sum)</th><th>per partition</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script id="topology" type="application/json">${data}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** JSON that can sit inside a <script> element: `<` is escaped so no `</script>` can end it. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const CSS = `
:root { --fg:#1d2433; --muted:#6b7385; --line:#c7cede; --stage:#ffffff; --stage-line:#3d6fd1; --accent:#3d6fd1; --bad:#c62f2f; --ok:#2b8a3e; --bg:#f4f6fa; --idle:#9aa3b5; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; justify-content: space-between; padding: 12px 20px; background: #1d2433; color: #fff; }
h1 { margin: 0; font-size: 18px; font-weight: 600; }
h1 .app { color: #9cc0ff; } h1 .mode { font-size: 12px; color: #aab3c5; margin-left: 6px; }
h2 { font-size: 15px; margin: 18px 0 6px; }
.status { font-size: 12px; color: #aab3c5; } .status.live { color: #8ee59e; } .status.warn { color: #ffd27a; } .status.down { color: #ff9b9b; }
main { padding: 12px 20px 40px; }
.graph { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
svg { display: block; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12px; }
svg .edge { fill: none; stroke: #8a94a8; stroke-width: 1.6; }
svg .edge.late { stroke-dasharray: 5 4; stroke: #c08a2b; }
svg .edge-label rect { fill: #fff; stroke: var(--line); }
svg .edge-label .topic { fill: var(--fg); }
svg .edge-label .end { fill: var(--muted); font-size: 11px; }
svg .stage rect.box { fill: var(--stage); stroke: var(--stage-line); stroke-width: 1.6; }
svg .stage.idle rect.box { stroke: var(--idle); stroke-dasharray: 4 3; }
svg .stage.failing rect.box { stroke: var(--bad); stroke-width: 2.4; }
svg .stage .name { font-size: 14px; font-weight: 700; fill: var(--fg); }
svg .stage .badge { font-size: 10px; fill: var(--accent); }
svg .stage .line { fill: var(--fg); }
svg .stage .row { fill: #3a4256; font-size: 11px; white-space: pre; }
svg .stage .row.idle { fill: var(--idle); }
svg .stage .sep { stroke: var(--line); }
svg .dlq-bad { fill: var(--bad); font-weight: 700; }
svg .end-node rect { fill: #eef1f7; stroke: #8a94a8; }
svg .end-node text { fill: var(--muted); font-size: 11px; }
svg .error { fill: var(--bad); font-size: 11px; }
table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); font-size: 12px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e3e7ef; text-align: left; white-space: nowrap; }
th { background: #eef1f7; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.bad { color: var(--bad); font-weight: 700; }
tr.idle td { color: var(--idle); }
`;

// Plain browser JavaScript (ES2020), kept small: no framework, no external requests.
const SCRIPT = `
(function () {
  'use strict';
  var SVG = 'http://www.w3.org/2000/svg';
  var data = JSON.parse(document.getElementById('topology').textContent);
  var d = data.description, layout = data.layout, S = data.sizes;
  var svg = document.getElementById('graph');
  var fields = {};   // key -> element whose text shows a figure

  function el(name, attrs, parent, text) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) if (attrs[k] !== undefined) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function field(key, el) { fields[key] = el; el.setAttribute('data-field', key); return el; }
  function fmt(n) { return n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'); }
  function rate(n) { return n >= 100 ? fmt(n) : (Math.round(n * 10) / 10).toString(); }
  function clock(t) { return t === null || t === undefined ? '–' : new Date(t).toISOString().slice(11, 23); }
  function set(key, text, value, cls) {
    var e = fields[key]; if (!e) return;
    if (e.textContent !== text) e.textContent = text;
    if (value !== undefined) e.setAttribute('data-value', String(value));
    if (cls !== undefined) e.setAttribute('class', cls);
  }

  // --- the graph, drawn once ---
  // Scales down to the window's width, to 60 % at most (then the section scrolls).
  svg.setAttribute('viewBox', '0 0 ' + layout.width + ' ' + layout.height);
  svg.setAttribute('width', '100%');
  svg.style.maxWidth = layout.width + 'px';
  svg.style.minWidth = Math.round(layout.width * 0.6) + 'px';
  var defs = el('defs', {}, svg);
  var marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs);
  el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#8a94a8' }, marker);
  var edgeLayer = el('g', { 'class': 'edges' }, svg);
  var nodeLayer = el('g', { 'class': 'nodes' }, svg);
  var labelLayer = el('g', { 'class': 'labels' }, svg);

  layout.edges.forEach(function (e) {
    el('path', { 'class': 'edge ' + e.kind, d: e.path, 'marker-end': 'url(#arrow)', 'data-topic': e.topic }, edgeLayer);
    var g = el('g', { 'class': 'edge-label', 'data-topic': e.topic, transform: 'translate(' + e.labelX + ',' + e.labelY + ')' }, labelLayer);
    el('rect', { x: -e.labelWidth / 2, y: -17, width: e.labelWidth, height: 34, rx: 4 }, g);
    el('text', { 'class': 'topic', x: 0, y: -3, 'text-anchor': 'middle' }, g, e.topic);
    field('topic:' + e.topic + ':' + e.id, el('text', { 'class': 'end', x: 0, y: 11, 'text-anchor': 'middle' }, g, 'end –'));
  });

  var stageOf = {};
  d.stages.forEach(function (s) { stageOf[s.name] = s; });
  layout.nodes.forEach(function (n) {
    if (n.kind !== 'stage') {
      var g = el('g', { 'class': 'end-node ' + n.kind, transform: 'translate(' + n.x + ',' + n.y + ')' }, nodeLayer);
      el('rect', { width: n.width, height: n.height, rx: n.height / 2 }, g);
      el('text', { x: n.width / 2, y: n.height / 2 + 4, 'text-anchor': 'middle' }, g, n.label);
      return;
    }
    var s = stageOf[n.stage];
    var g = el('g', { 'class': 'stage', 'data-stage': n.stage, transform: 'translate(' + n.x + ',' + n.y + ')' }, nodeLayer);
    field('box:' + n.stage, g);
    el('title', {}, g, 'stage ' + n.stage + (s.keyed ? ' (keyed)' : '') + '\\nruns ' + s.operators.join(' → ') + '\\ncontrol ' + s.controlTopic + '\\ndlq ' + s.deadLetterTopic);
    el('rect', { 'class': 'box', width: n.width, height: n.height, rx: 6 }, g);
    el('text', { 'class': 'name', x: 12, y: 20 }, g, n.stage);
    el('text', { 'class': 'badge', x: n.width - 12, y: 19, 'text-anchor': 'end' }, g, (s.keyed ? 'keyed · ' : '') + s.operators.length + ' op' + (s.operators.length === 1 ? '' : 's'));
    var l1 = el('text', { 'class': 'line', x: 12, y: 38 }, g);
    el('tspan', {}, l1, 'in ');
    field('in:' + n.stage, el('tspan', { 'data-stage': n.stage }, l1, '0'));
    el('tspan', {}, l1, ' (');
    field('inRate:' + n.stage, el('tspan', {}, l1, '0'));
    el('tspan', {}, l1, '/s)  out ');
    field('out:' + n.stage, el('tspan', { 'data-stage': n.stage }, l1, '0'));
    el('tspan', {}, l1, ' (');
    field('outRate:' + n.stage, el('tspan', {}, l1, '0'));
    el('tspan', {}, l1, '/s)');
    var l2 = el('text', { 'class': 'line', x: 12, y: 55 }, g);
    el('tspan', {}, l2, 'lag ');
    field('lag:' + n.stage, el('tspan', {}, l2, '–'));
    el('tspan', {}, l2, '  wm ');
    field('wm:' + n.stage, el('tspan', {}, l2, '–'));
    el('tspan', {}, l2, '  dlq ');
    field('dlq:' + n.stage, el('tspan', {}, l2, '0'));
    field('err:' + n.stage, el('text', { 'class': 'error', x: 12, y: n.height + 14 }, g, ''));
    el('line', { 'class': 'sep', x1: 8, x2: n.width - 8, y1: S.stageHeaderHeight - 8, y2: S.stageHeaderHeight - 8 }, g);
    for (var i = 0; i < n.rows; i++) {
      field('row:' + n.stage + ':' + i, el('text', { 'class': 'row', x: 12, y: S.stageHeaderHeight + 6 + i * S.rowHeight }, g, ''));
    }
  });

  // --- figures, updated in place ---
  var tasksBody = document.querySelector('#tasks tbody');
  var topicsBody = document.querySelector('#topics tbody');
  function cells(tr, values) {
    while (tr.children.length < values.length) tr.appendChild(document.createElement('td'));
    values.forEach(function (v, i) {
      var td = tr.children[i];
      var text = v[0], cls = v[1] || '';
      if (td.textContent !== text) td.textContent = text;
      if (td.className !== cls) td.className = cls;
    });
  }
  function rowsOf(body, n) {
    while (body.children.length < n) body.appendChild(document.createElement('tr'));
    while (body.children.length > n) body.removeChild(body.lastChild);
    return body.children;
  }
  function pad(s, n) { s = String(s); while (s.length < n) s += ' '; return s; }
  function lpad(s, n) { s = String(s); while (s.length < n) s = ' ' + s; return s; }

  function render(snap) {
    var byTopic = {};
    snap.topics.forEach(function (t) { byTopic[t.name] = t; });
    layout.edges.forEach(function (e) {
      var t = byTopic[e.topic];
      set('topic:' + e.topic + ':' + e.id, 'end ' + fmt(t ? t.total : null), t && t.total !== null ? t.total : '');
    });
    var taskRows = [];
    snap.stages.forEach(function (s) {
      set('in:' + s.name, fmt(s.recordsIn), s.recordsIn);
      set('inRate:' + s.name, rate(s.inPerSec), s.inPerSec);
      set('out:' + s.name, fmt(s.recordsOut), s.recordsOut);
      set('outRate:' + s.name, rate(s.outPerSec), s.outPerSec);
      set('lag:' + s.name, fmt(s.lag), s.lag === null ? '' : s.lag);
      set('wm:' + s.name, clock(s.watermark), s.watermark === null ? '' : s.watermark);
      set('dlq:' + s.name, fmt(s.deadLetters), s.deadLetters, s.deadLetters > 0 ? 'dlq-bad' : '');
      set('err:' + s.name, s.lastError ? 'failing: ' + s.lastError.slice(0, 90) : '');
      var box = fields['box:' + s.name];
      if (box) box.setAttribute('class', 'stage' + (s.idle ? ' idle' : '') + (s.lastError ? ' failing' : ''));
      var node = layout.nodes.find(function (n) { return n.stage === s.name; });
      var shown = node ? node.rows : 0;
      var many = s.partitions.length > shown;
      s.partitions.forEach(function (p, i) {
        if (i < (many ? shown - 1 : shown)) {
          var inputs = stageOf[s.name].inputs;
          var label = (inputs.length > 1 ? inputs.findIndex(function (x) { return x.topic === p.topic; }) + '/' : '') + 'p' + p.partition;
          var text = pad(label, 4) + ' in ' + lpad(fmt(p.recordsIn), 6) + ' ' + lpad(rate(p.inPerSec), 5) + '/s  lag ' + lpad(fmt(p.lag), 4) + '  wm ' + clock(p.watermark).slice(0, 8) + '  dlq ' + fmt(p.deadLetters) + (p.idle ? '  idle' : '');
          set('row:' + s.name + ':' + i, text, p.recordsIn, 'row' + (p.idle ? ' idle' : ''));
        }
        taskRows.push([
          [s.name], [p.task], [p.topic + '/' + p.partition], [fmt(p.recordsIn), 'n'], [rate(p.inPerSec), 'n'], [fmt(p.recordsOut), 'n'], [rate(p.outPerSec), 'n'],
          [fmt(p.endOffset), 'n'], [fmt(p.lag), 'n'], [clock(p.watermark)], [p.idle ? 'idle' : 'active'], [fmt(p.deadLetters), p.deadLetters > 0 ? 'n bad' : 'n'], p.idle
        ]);
      });
      if (many) {
        var rest = s.partitions.slice(shown - 1);
        var sum = rest.reduce(function (a, p) { return a + p.recordsIn; }, 0);
        set('row:' + s.name + ':' + (shown - 1), '+' + rest.length + ' more partitions, in ' + fmt(sum), sum, 'row');
      }
    });
    var trs = rowsOf(tasksBody, taskRows.length);
    taskRows.forEach(function (r, i) { trs[i].className = r[12] ? 'idle' : ''; cells(trs[i], r.slice(0, 12)); });
    var topicRows = rowsOf(topicsBody, snap.topics.length);
    snap.topics.forEach(function (t, i) {
      cells(topicRows[i], [[t.name], [t.role], [String(t.partitions), 'n'], [fmt(t.total), 'n'], [t.endOffsets.map(function (e) { return e === null ? '–' : String(e); }).join(' ')]]);
    });
    var status = document.getElementById('status');
    var warnings = snap.warnings || [];
    status.textContent = 'live · ' + new Date(snap.at).toISOString().slice(11, 19) + ' UTC' + (warnings.length > 0 ? ' · ' + warnings.join('; ').slice(0, 160) : '');
    status.className = 'status ' + (warnings.length > 0 ? 'warn' : 'live');
    document.body.setAttribute('data-snapshot-at', String(snap.at));
  }

  // --- the feed: Server-Sent Events, polling when they fail ---
  var polling = null;
  function poll() {
    fetch('api/snapshot', { cache: 'no-store' }).then(function (r) { return r.json(); }).then(render).catch(function () {
      var status = document.getElementById('status');
      status.textContent = 'disconnected: retrying'; status.className = 'status down';
    });
  }
  function startPolling() { if (polling === null) { poll(); polling = setInterval(poll, 1000); } }
  if (typeof EventSource === 'function') {
    var source = new EventSource('api/events');
    source.onmessage = function (m) { if (polling !== null) { clearInterval(polling); polling = null; } render(JSON.parse(m.data)); };
    source.onerror = function () {
      var status = document.getElementById('status');
      status.textContent = 'disconnected: reconnecting…'; status.className = 'status down';
      if (source.readyState === EventSource.CLOSED) startPolling();
    };
  } else {
    startPolling();
  }
  poll();
})();
`;
