// The live dashboard: one server-sent-events stream of cluster snapshots
// from the node that served the page. When that node stops answering, the
// page follows the cluster to another node it knows of. A module, so that it
// takes the routes from the same file the server registers them from
// (src/protocol/paths.ts, copied next to it by scripts/build-ui.mjs).
import { EVENTS_PATH, locatePath } from './paths.js';

const HISTORY = 120; // points kept in each chart (one a snapshot, two a second)
const SWITCH_AFTER_MS = 1500; // silence on the stream before trying another node

const $ = (id) => document.getElementById(id);
let base = ''; // '' = the node that served the page, else http(s)://HOST:PORT
// A node with --tokens-file wants a token: /ui/#token=TOKEN (a fragment never reaches a server or its logs).
// EventSource sets no headers, so the token travels as the access_token query parameter.
const token = new URLSearchParams(location.hash.slice(1)).get('token');
const auth = token ? `?access_token=${encodeURIComponent(token)}` : '';
let source = null;
let lastSnapshot = null;
let silenceTimer = null;
const series = { time: [], rate: [], p99: [], under: [], transfers: [], hints: [] };
let charts = null;

function text(element, value) {
  element.textContent = value;
}

function cell(row, content, className) {
  const td = row.insertCell();
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  if (className) td.className = className;
  return td;
}

function pill(label, className) {
  const span = document.createElement('span');
  span.className = `pill ${className}`;
  span.textContent = label;
  return span;
}

function ago(ms) {
  if (ms === null) return '—';
  return ms < 1000 ? `${ms} ms ago` : `${(ms / 1000).toFixed(1)} s ago`;
}

function connect(nextBase) {
  if (source) source.close();
  base = nextBase;
  source = new EventSource(`${base}${EVENTS_PATH}${auth}`);
  source.onmessage = (event) => {
    clearTimeout(silenceTimer);
    silenceTimer = null;
    setLive(true);
    render(JSON.parse(event.data));
  };
  source.onerror = () => {
    setLive(false);
    if (silenceTimer === null) silenceTimer = setTimeout(switchNode, SWITCH_AFTER_MS);
  };
}

/** The node we listen to is gone: try the next node it last reported alive. */
function switchNode() {
  silenceTimer = null;
  const current = lastSnapshot ? lastSnapshot.node : null;
  const candidates = lastSnapshot ? lastSnapshot.nodes.filter((node) => node.id !== current && node.state !== 'down').map((node) => node.id) : [];
  if (candidates.length === 0) {
    silenceTimer = setTimeout(switchNode, SWITCH_AFTER_MS);
    return;
  }
  const next = candidates[Math.floor(Math.random() * candidates.length)];
  lastSnapshot = { ...lastSnapshot, node: next };
  connect(`${location.protocol}//${next}`);
  silenceTimer = setTimeout(switchNode, SWITCH_AFTER_MS);
}

function setLive(live) {
  const element = $('live');
  element.className = `pill ${live ? 'alive' : 'unreachable'}`;
  text(element, live ? 'live' : 'offline');
}

function render(snapshot) {
  lastSnapshot = snapshot;
  text($('source'), `as seen by ${snapshot.node}`);
  text($('leader'), snapshot.leader ?? 'none');
  text($('term'), String(snapshot.term));
  text($('rf'), String(snapshot.replicationFactor));
  text($('alive'), String(snapshot.nodes.filter((node) => node.state !== 'down').length));

  const warnings = $('warnings');
  warnings.replaceChildren(
    ...snapshot.warnings.map((warning) => {
      const div = document.createElement('div');
      div.className = 'warning';
      div.textContent = `WARNING: ${warning}`;
      return div;
    }),
  );

  const body = $('nodes').tBodies[0];
  body.replaceChildren();
  for (const node of snapshot.nodes) {
    const row = body.insertRow();
    row.className = node.state;
    row.dataset.node = node.id;
    cell(row, node.id + (node.id === snapshot.node ? ' (this page)' : ''));
    cell(row, pill(node.role, node.role));
    cell(row, pill(node.state, node.state), 'state');
    cell(row, node.term === null ? '—' : String(node.term));
    cell(row, ago(node.lastHeardMsAgo));
  }

  const { repair } = snapshot;
  const state = $('repair-state');
  state.className = `pill ${repair.inSync ? 'in-sync' : 'repairing'}`;
  text(state, repair.inSync ? 'in sync' : 'repairing');
  text(
    $('repair-counts'),
    `${repair.underReplicated} under-replicated · ${repair.transfersInProgress} transfers · ${repair.hintsPending} hints pending`,
  );

  const traffic = snapshot.traffic;
  text($('rate'), traffic ? `${traffic.requestsPerSecond.toFixed(0)}/s on ${traffic.node}` : '');
  text($('p99'), traffic && traffic.p99Seconds !== null ? `${(traffic.p99Seconds * 1000).toFixed(1)} ms` : '');
  push(snapshot.at / 1000, traffic, repair);
}

function push(time, traffic, repair) {
  const values = {
    time,
    rate: traffic ? traffic.requestsPerSecond : null,
    p99: traffic && traffic.p99Seconds !== null ? traffic.p99Seconds * 1000 : null,
    under: repair.underReplicated,
    transfers: repair.transfersInProgress,
    hints: repair.hintsPending,
  };
  for (const [name, value] of Object.entries(values)) {
    series[name].push(value);
    if (series[name].length > HISTORY) series[name].shift();
  }
  if (!charts) charts = makeCharts();
  charts.rate.setData([series.time, series.rate]);
  charts.p99.setData([series.time, series.p99]);
  charts.repair.setData([series.time, series.under, series.transfers, series.hints]);
}

function chart(element, lines) {
  const width = Math.max(200, element.parentElement.clientWidth - 20);
  return new uPlot(
    {
      width,
      height: 140,
      legend: { show: lines.length > 1, live: false },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [{ space: 60 }, { size: 60 }],
      series: [{}, ...lines.map(([label, stroke]) => ({ label, stroke, width: 2, spanGaps: false }))],
    },
    [[], ...lines.map(() => [])],
    element,
  );
}

function makeCharts() {
  return {
    rate: chart($('rate-chart'), [['requests/s', '#3d5afe']]),
    p99: chart($('p99-chart'), [['p99 ms', '#c2185b']]),
    repair: chart($('repair-chart'), [
      ['under-replicated', '#d63a3a'],
      ['transfers', '#c98a04'],
      ['hints', '#5b6b8c'],
    ]),
  };
}

function version(v) {
  if (!v) return '—';
  const [term, clock, writer] = v;
  const written = new Date(clock / 1024);
  return `${term} · ${written.toISOString().replace('T', ' ').replace('Z', ' UTC')} · ${writer}`;
}

async function locate(event) {
  event.preventDefault();
  const key = $('key').value.trim();
  const error = $('locate-error');
  const table = $('copies');
  text(error, '');
  try {
    const response = await fetch(`${base}${locatePath(key)}${auth}`);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
    const rows = table.tBodies[0];
    rows.replaceChildren();
    for (const copy of body.copies) {
      const row = rows.insertRow();
      row.dataset.node = copy.node;
      cell(row, copy.node);
      cell(row, copy.owner ? 'owner' : '—', copy.owner ? 'owner' : '');
      cell(row, copy.copy);
      cell(row, version(copy.version));
    }
    table.hidden = false;
  } catch (failure) {
    table.hidden = true;
    text(error, `Error: ${failure.message}`);
  }
}

$('locate').addEventListener('submit', locate);
connect('');
