// gpusched dashboard: draws the state pushed by /api/events (server-sent events). No build step.
'use strict';

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
};
const fmt = (x, d = 2) => Number(x).toFixed(d);
let queuesKnown = '';
let simulated = false;

function blocks(gpu) {
  // WHOLE: one block; MIG: one per memory slice (mask bit set = occupied); SHARED: ten tenths.
  if (gpu.mode === 'MIG_DYNAMIC' || gpu.mode === 'MIG_STATIC') {
    return Array.from({ length: gpu.migSlices || 8 }, (_, i) => (gpu.migSlotMask >> i) & 1);
  }
  if (gpu.mode === 'SHARED') {
    const used = Math.ceil(gpu.milliUsed / 100);
    return Array.from({ length: 10 }, (_, i) => (i < used ? 1 : 0));
  }
  return [gpu.free ? 0 : 1];
}

async function nodeAction(id, action) {
  await fetch(`/api/nodes/${encodeURIComponent(id)}/${action}?deadlineSeconds=5`, { method: 'POST' });
}

function drawNodes(nodes) {
  const box = $('#nodes');
  box.replaceChildren(...nodes.map((n) => el('div', { class: `node ${n.state}`, 'data-node': n.id },
    el('div', { class: 'node-head' },
      el('span', {}, `${n.id} `, el('small', {}, `${n.state} · ${n.capacityClass} · ${n.summary.allocatedGpus}/${n.summary.gpus} in use`)),
      el('span', {},
        el('button', { onclick: () => nodeAction(n.id, n.state === 'READY' ? 'cordon' : 'uncordon') }, n.state === 'READY' ? 'cordon' : 'uncordon'),
        el('button', { onclick: () => nodeAction(n.id, 'drain') }, 'drain'))),
    ...n.gpus.map((g) => el('div', { class: `gpu ${g.mode}`, 'data-node': n.id, 'data-gpu': String(g.index) },
      el('span', { class: 'label' }, `GPU ${g.index} · ${g.model} · ${g.mode.replace('_', ' ').toLowerCase()}`),
      ...blocks(g).map((u) => el('span', { class: u ? 'block used' : 'block' })))))));
}

function drawQueues(queues) {
  const names = queues.map((q) => q.name).join(',');
  if (names !== queuesKnown) {
    queuesKnown = names;
    $('#job-queue').replaceChildren(...queues.map((q) => el('option', { value: q.name }, q.name)));
  }
  const max = Math.max(1, ...queues.map((q) => Math.max(q.usedGpus, q.entitledGpus)));
  $('#queues tbody').replaceChildren(...queues.map((q) => el('tr', { 'data-queue': q.name },
    el('td', {}, q.name), el('td', { class: 'pending' }, String(q.pending),
      ...Object.entries(q.pendingByReason || {}).map(([r, n]) => el('small', { class: 'reason' }, ` ${n} ${r.toLowerCase()}`))), el('td', { class: 'running' }, String(q.running)),
    el('td', {}, (() => {
      const bar = el('span', { class: 'bar', title: `used ${fmt(q.usedGpus)} / entitled ${fmt(q.entitledGpus)}` },
        el('span', { class: 'used', style: `width:${(100 * q.usedGpus) / max}%` }),
        el('span', { class: 'ent', style: `left:${(100 * q.entitledGpus) / max}%` }));
      return el('span', {}, bar, ` ${fmt(q.usedGpus)} / ${fmt(q.entitledGpus)}`);
    })()),
    el('td', {}, fmt(q.cost, 4)))));
}

// times in the viewer's own zone (the browser's), the full date and zone on hover
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const time = (iso) => {
  if (!iso) return '';
  const d = new Date(iso);
  return el('time', { datetime: iso, title: `${d.toLocaleString()} (${zone})` }, d.toLocaleTimeString());
};
const where = (j) => j.allocations.flatMap((a) => a.gpus.map((g) => `${g.node} ${g.what}`)).join(', ');

function drawEvents(j) {
  return el('ol', { class: 'events' }, ...j.events.map((e) =>
    el('li', { class: `ev ev-${e.kind.replace(/ /g, '-')}`, title: e.detail || e.kind },
      el('span', { class: 'ev-kind' }, e.kind), ' ', time(e.at), e.detail ? el('small', {}, ` ${e.detail}`) : '')));
}

function drawJobs(jobs) {
  $('#jobs tbody').replaceChildren(...jobs.map((j) => el('tr', { 'data-job-id': j.id },
    el('td', { 'data-label': 'job', title: j.id, class: 'id' }, j.id.slice(0, 8)),
    el('td', { 'data-label': 'queue' }, j.queue),
    el('td', { 'data-label': 'request', class: 'request' }, j.request, j.priority ? el('small', {}, ` prio ${j.priority}`) : ''),
    el('td', { 'data-label': 'state', class: `state ${j.state}` }, j.state),
    el('td', { 'data-label': 'waits for', class: 'reason', title: 'why it waits (PendingReason)' }, j.pendingReason ? j.pendingReason.toLowerCase() : ''),
    el('td', { 'data-label': 'where', class: 'where' }, where(j),
      j.cudaVisibleDevices ? el('code', { class: 'cvd', title: simulated ? 'simulated GPUs: a label, not a device' : 'CUDA_VISIBLE_DEVICES' }, `CUDA_VISIBLE_DEVICES=${j.cudaVisibleDevices}`) : ''),
    el('td', { 'data-label': 'command', class: 'command' }, el('code', {}, j.command)),
    el('td', { 'data-label': 'exit', class: 'exit' }, j.exitCode === null || j.exitCode === undefined ? '' : String(j.exitCode)),
    el('td', { 'data-label': 'log', class: 'log' }, j.logTail.length ? el('pre', {}, j.logTail.join('\n')) : ''),
    el('td', { 'data-label': 'events', class: 'events-cell' }, drawEvents(j)),
    el('td', { 'data-label': '' }, ['PENDING', 'RUNNING'].includes(j.state)
      ? el('button', { onclick: () => fetch(`/api/jobs/${j.id}`, { method: 'DELETE' }) }, 'cancel') : ''))));
}

function drawChart(history) {
  const c = $('#chart');
  const box = Math.floor(c.parentElement.clientWidth - 4);
  if (box > 100 && c.width !== box) c.width = box;
  const g = c.getContext('2d');
  const w = c.width, h = c.height, pad = 24;
  g.clearRect(0, 0, w, h);
  g.strokeStyle = '#ccd'; g.fillStyle = '#667'; g.font = '10px sans-serif';
  for (const p of [0, 50, 100]) {
    const y = h - pad - ((h - 2 * pad) * p) / 100;
    g.beginPath(); g.moveTo(pad, y); g.lineTo(w - 4, y); g.stroke(); g.fillText(`${p}%`, 0, y + 3);
  }
  if (history.length < 2) return;
  const t0 = history[0].t, t1 = history[history.length - 1].t;
  const x = (t) => pad + ((w - pad - 4) * (t - t0)) / Math.max(1, t1 - t0);
  const y = (v) => h - pad - ((h - 2 * pad) * v) / 100;
  for (const [key, color] of [['allocated', '#3b82f6'], ['fragmented', '#f59e0b']]) {
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    history.forEach((p, i) => (i ? g.lineTo(x(p.t), y(p[key])) : g.moveTo(x(p.t), y(p[key]))));
    g.stroke();
  }
  g.fillStyle = '#3b82f6'; g.fillText('allocated', w - 120, 12); g.fillStyle = '#f59e0b'; g.fillText('fragmented', w - 60, 12);
}

function draw(s) {
  simulated = s.simulatedGpus;
  $('#simulated').hidden = !simulated;
  $('#summary').textContent =
    `${s.total.allocatedGpus}/${s.total.gpus} GPUs in use · ${fmt(s.total.allocatedPercent, 1)}% allocated · ` +
    `${s.jobs.PENDING} pending · ${s.jobs.RUNNING} running · ${s.jobs.COMPLETED} completed`;
  drawNodes(s.nodes);
  drawQueues(s.queues);
  drawJobs(s.jobList);
  drawChart(s.history);
}

function connect() {
  const src = new EventSource('/api/events');
  src.addEventListener('state', (e) => draw(JSON.parse(e.data)));
  src.onopen = () => $('#conn').classList.add('live');
  src.onerror = () => $('#conn').classList.remove('live');
}

function showKind() {
  const kind = $('#job-kind').value;
  for (const k of ['whole', 'mig', 'share']) {
    document.querySelectorAll(`.k-${k}`).forEach((e) => { e.style.display = k === kind ? '' : 'none'; });
  }
}

$('#job-kind').addEventListener('change', showKind);
$('#submit-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const kind = $('#job-kind').value;
  const body = {
    queue: $('#job-queue').value, kind,
    priority: Number($('#job-priority').value), durationSeconds: Number($('#job-duration').value),
    preemptible: $('#job-preemptible').checked,
  };
  if (kind === 'whole') { body.count = Number($('#job-count').value); body.sameNode = $('#job-same-node').checked; }
  if (kind === 'mig') { body.profile = $('#job-profile').value; body.withoutStranding = $('#job-no-stranding').checked; }
  if (kind === 'share') { body.milliGpu = Number($('#job-milli').value); body.memoryMiB = Math.round(Number($('#job-memory').value) * 1024); }
  const line = $('#job-command').value.trim();
  if (line) body.commandLine = line;
  const res = await fetch('/api/jobs', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const out = $('#form-result');
  const json = await res.json();
  if (res.ok) {
    out.className = ''; out.textContent = `submitted ${json.id}: ${json.state}`; out.dataset.jobId = json.id;
  } else {
    out.className = 'error'; out.textContent = `${json.title}: ${json.detail}`; delete out.dataset.jobId;
  }
});
showKind();
$('#zone').textContent = `times in ${zone}`;
fetch('/api/state').then((r) => r.json()).then(draw);
connect();
