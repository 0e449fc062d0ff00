// pages/apps.js: every app, in its group tree, with its counts, health, running
// deployment and why instances wait. Tasks are not loaded here (a cluster's
// tasks are many): the app page lists them.
import { html, useState, useEffect, useMemo, useRef, Component, useLayoutEffect } from '../lib.js';
import { appHealth, worse, Status, useLive, appHref, deploymentHref, shortID, hashFor, ErrorNotice } from '../util.js';

const statusOrder = ['unhealthy', 'waiting', 'backoff', 'degraded', 'deploying', 'checking', 'healthy', 'suspended'];
const statusText = {
  unhealthy: 'Unhealthy', waiting: 'Waiting', backoff: 'Backing off', degraded: 'Degraded', deploying: 'Deploying',
  checking: 'Checking', healthy: 'Healthy', suspended: 'Suspended',
};

/** Builds the rows of the tree: groups (with their apps' sums) then apps, depth first. */
function treeRows(apps, collapsed) {
  const root = { id: '/', groups: new Map(), apps: [] };
  for (const a of apps) {
    const segs = a.app.id.split('/').filter(Boolean);
    let node = root;
    for (let i = 0; i < segs.length - 1; i++) {
      const gid = '/' + segs.slice(0, i + 1).join('/');
      let g = node.groups.get(gid);
      if (!g) {
        g = { id: gid, groups: new Map(), apps: [] };
        node.groups.set(gid, g);
      }
      node = g;
    }
    node.apps.push(a);
  }
  const rows = [];
  const sum = (g) => {
    const s = { apps: 0, instances: 0, running: 0, healthy: 0, staged: 0, unhealthy: 0, deploying: 0, health: null };
    for (const c of g.groups.values()) {
      const cs = sum(c);
      for (const k of ['apps', 'instances', 'running', 'healthy', 'staged', 'unhealthy', 'deploying']) s[k] += cs[k];
      s.health = worse(s.health, cs.health);
    }
    for (const a of g.apps) {
      const x = a.app;
      s.apps++;
      s.instances += x.instances || 0;
      s.running += x.tasksRunning || 0;
      s.healthy += x.tasksHealthy || 0;
      s.staged += x.tasksStaged || 0;
      s.unhealthy += x.tasksUnhealthy || 0;
      if ((x.deployments || []).length) s.deploying++;
      s.health = worse(s.health, a.health);
    }
    g.sum = s;
    return s;
  };
  sum(root);
  const walk = (g, depth) => {
    const groups = [...g.groups.values()].sort((x, y) => (x.id < y.id ? -1 : 1));
    for (const c of groups) {
      const open = !collapsed.has(c.id);
      rows.push({ kind: 'group', id: c.id, depth, sum: c.sum, open });
      if (open) walk(c, depth + 1);
    }
    for (const a of g.apps) rows.push({ kind: 'app', id: a.app.id, depth, item: a });
  };
  walk(root, 0);
  return rows;
}

function num(n, col) {
  return html`<td class=${'num' + (n ? '' : ' zero') + (col === 'staged' || col === 'unhealthy' ? ' hide-sm' : '')} data-col=${col}>${n}</td>`;
}

/** One app's row; re-rendered only when what it shows changed. */
class AppRow extends Component {
  shouldComponentUpdate(next) { return next.sig !== this.props.sig; }
  render({ row, index }) {
    const { app, health, wait } = row.item;
    const name = app.id.slice(app.id.lastIndexOf('/') + 1);
    const dep = (app.deployments || [])[0];
    let why = '';
    if (wait && wait.waiting) why = wait.waiting;
    else if (wait && wait.delaySeconds > 0) why = `backing off: next launch in ${Math.ceil(wait.delaySeconds)} s`;
    return html`<tr data-app=${app.id} data-status=${health.key} aria-rowindex=${index}>
      <td class="id-cell"><span class="indent" style=${'--d:' + (row.depth + 1)}></span><a href=${appHref(app.id)} title=${app.id} aria-label=${app.id}>${name}</a></td>
      <td><${Status} h=${health} /></td>
      ${num(app.instances || 0, 'instances')}
      ${num(app.tasksRunning || 0, 'running')}
      ${num(app.tasksHealthy || 0, 'healthy')}
      ${num(app.tasksStaged || 0, 'staged')}
      ${num(app.tasksUnhealthy || 0, 'unhealthy')}
      <td class="hide-sm">${dep ? html`<a href=${deploymentHref(dep.id)} title=${dep.id}>${shortID(dep.id)}</a>` : ''}</td>
      <td class="why" title=${why || null}>${why}</td>
    </tr>`;
  }
}

function GroupRow({ row, toggle, index }) {
  const s = row.sum;
  return html`<tr class="group" data-group=${row.id} aria-rowindex=${index}>
    <td class="id-cell"><span class="indent" style=${'--d:' + row.depth}></span>
      <button type="button" class="toggle" aria-expanded=${row.open ? 'true' : 'false'} onClick=${() => toggle(row.id)}
        title=${(row.open ? 'Collapse ' : 'Expand ') + row.id}>${row.open ? '▾' : '▸'} ${row.id}</button>
      <span class="muted"> (${s.apps} ${s.apps === 1 ? 'app' : 'apps'})</span></td>
    <td>${s.health && html`<${Status} h=${s.health} />`}</td>
    ${num(s.instances, 'instances')}
    ${num(s.running, 'running')}
    ${num(s.healthy, 'healthy')}
    ${num(s.staged, 'staged')}
    ${num(s.unhealthy, 'unhealthy')}
    <td class="hide-sm">${s.deploying ? `${s.deploying} deploying` : ''}</td>
    <td></td>
  </tr>`;
}

// Windowing: a long list renders only the rows in and near the viewport (the
// rest are two spacer rows of the right height), so the page costs the same
// with 10 apps or 10,000. Rows then have one fixed height (style.css).
const windowFrom = 200; // fewer rows than this are all rendered
const overscan = 25; // rows rendered beyond each edge of the viewport

function useRowWindow(count, bodyRef) {
  const windowed = count > windowFrom;
  const [range, setRange] = useState([0, Math.min(count, 60)]);
  const rowHeight = useRef(0);
  useLayoutEffect(() => {
    if (!windowed) return undefined;
    let frame = 0;
    const update = () => {
      frame = 0;
      const body = bodyRef.current;
      if (!body) return;
      const row = body.querySelector('tr[data-app], tr[data-group]');
      if (row) rowHeight.current = row.getBoundingClientRect().height || rowHeight.current;
      const h = rowHeight.current || 38;
      const top = body.getBoundingClientRect().top;
      const first = Math.max(0, Math.min(count, Math.floor(-top / h) - overscan));
      const last = Math.max(first, Math.min(count, Math.ceil((innerHeight - top) / h) + overscan));
      setRange((r) => (r[0] === first && r[1] === last ? r : [first, last]));
    };
    const schedule = () => { if (!frame) frame = requestAnimationFrame(update); };
    update();
    addEventListener('scroll', schedule, { passive: true });
    addEventListener('resize', schedule);
    // A focused row's neighbours are rendered before Tab reaches them.
    const body = bodyRef.current;
    if (body) body.addEventListener('focusin', schedule);
    return () => {
      removeEventListener('scroll', schedule);
      removeEventListener('resize', schedule);
      if (body) body.removeEventListener('focusin', schedule);
      cancelAnimationFrame(frame);
    };
  }, [count, windowed]);
  if (!windowed) return { windowed, first: 0, last: count, height: 0 };
  return { windowed, first: range[0], last: Math.min(range[1], count), height: rowHeight.current || 38 };
}

export function AppsPage({ params }) {
  const [q, setQ] = useState(params.get('q') || '');
  const [label, setLabel] = useState(params.get('label') || '');
  const [labelApplied, setLabelApplied] = useState(params.get('label') || '');
  const [status, setStatus] = useState(params.get('status') || '');
  const [collapsed, setCollapsed] = useState(() => new Set());
  const marked = useRef(false);

  // The filters live in the address, so a filtered view can be shared.
  useEffect(() => {
    history.replaceState(null, '', hashFor('/apps', { q, label: labelApplied, status }));
  }, [q, labelApplied, status]);
  useEffect(() => {
    const t = setTimeout(() => setLabelApplied(label.trim()), 300);
    return () => clearTimeout(t);
  }, [label]);

  const path = '/v2/apps' + (labelApplied ? '?label=' + encodeURIComponent(labelApplied) : '');
  const apps = useLive(path, { interest: (ev) => ev.type !== 'event_stream_attached', throttle: 700 });
  const queue = useLive('/stride/v1/queue', { interest: (ev) => ev.type !== 'event_stream_attached', throttle: 700 });

  // User Timing marks: how long the first rendering of the apps takes
  // (BenchmarkAppsPage reads them; so can anyone, in the browser's tools).
  const dataMarked = useRef(false);
  if (apps.data && !dataMarked.current) {
    dataMarked.current = true;
    performance.mark('stride:apps-data');
  }

  const items = useMemo(() => {
    if (!apps.data) return null;
    const waits = new Map(((queue.data && queue.data.queue) || []).map((w) => [w.id, w]));
    return apps.data.apps.map((app) => {
      const wait = waits.get(app.id) || null;
      const health = appHealth(app, wait);
      const sig = [app.instances, app.tasksRunning, app.tasksHealthy, app.tasksStaged, app.tasksUnhealthy,
        (app.deployments || []).map((d) => d.id).join(), health.key, wait ? wait.waiting + wait.delaySeconds : ''].join('|');
      return { app, wait, health, sig };
    }).sort((a, b) => (a.app.id < b.app.id ? -1 : 1));
  }, [apps.data, queue.data]);

  const needle = q.trim().toLowerCase();
  const shown = useMemo(() => (items || []).filter((it) =>
    (!needle || it.app.id.toLowerCase().includes(needle)) && (!status || it.health.key === status)), [items, needle, status]);
  const rows = useMemo(() => treeRows(shown, collapsed), [shown, collapsed]);
  const bodyRef = useRef(null);
  const win = useRowWindow(rows.length, bodyRef);

  const counts = useMemo(() => {
    const c = {};
    for (const it of items || []) c[it.health.key] = (c[it.health.key] || 0) + 1;
    return c;
  }, [items]);

  useEffect(() => {
    if (items && !marked.current) {
      marked.current = true;
      performance.mark('stride:apps-rendered');
      try { performance.measure('stride:apps-render', 'stride:apps-data', 'stride:apps-rendered'); } catch { /* marks cleared */ }
    }
  }, [items]);

  const toggle = (id) => setCollapsed((old) => {
    const n = new Set(old);
    if (n.has(id)) n.delete(id); else n.add(id);
    return n;
  });

  const labelError = apps.error && apps.error.status === 400 && labelApplied;
  return html`
    <h1>Apps</h1>
    <p class="sub">${items ? html`<span data-count=${items.length}>${items.length} ${items.length === 1 ? 'app' : 'apps'}</span>` : 'Loading…'}
      ${items && items.length > 0 && html`: ${statusOrder.filter((k) => counts[k]).map((k, i) => html`${i ? ', ' : ''}<button type="button" class="link" aria-pressed=${status === k ? 'true' : 'false'}
        onClick=${() => setStatus(status === k ? '' : k)} title=${'Show only ' + statusText[k].toLowerCase() + ' apps'}>${counts[k]} ${statusText[k].toLowerCase()}</button>`)}`}
    </p>
    <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
      <label class="field">Filter by id
        <input type="search" value=${q} onInput=${(e) => setQ(e.target.value)} placeholder="shop/web" name="q" autocomplete="off" />
      </label>
      <label class="field">Label selector
        <input type="search" value=${label} onInput=${(e) => setLabel(e.target.value)} placeholder="team==payments" name="label" autocomplete="off" />
      </label>
      <label class="field">Status
        <select value=${status} onChange=${(e) => setStatus(e.target.value)} name="status">
          <option value="">Any</option>
          ${statusOrder.map((k) => html`<option value=${k}>${statusText[k]}</option>`)}
        </select>
      </label>
      ${(q || label || status) && html`<button type="button" onClick=${() => { setQ(''); setLabel(''); setStatus(''); }}>Clear filters</button>`}
    </form>
    ${labelError ? html`<div class="notice error" role="alert">${apps.error.message}</div>` : html`<${ErrorNotice} error=${apps.error} what="the apps" />`}
    ${items && html`
      <div class="table-wrap">
        <table class=${'apps' + (win.windowed ? ' windowed' : '')} data-total=${rows.length} aria-rowcount=${rows.length + 1}>
          <caption class="sr-only">Apps by group, with their task counts and health</caption>
          <colgroup><col class="c-app" /><col class="c-status" /><col class="c-num" /><col class="c-num" /><col class="c-num" />
            <col class="c-num hide-sm" /><col class="c-num hide-sm" /><col class="c-dep hide-sm" /><col /></colgroup>
          <thead><tr aria-rowindex="1">
            <th scope="col">App</th><th scope="col">Status</th><th scope="col" class="num">Instances</th>
            <th scope="col" class="num">Running</th><th scope="col" class="num">Healthy</th>
            <th scope="col" class="num hide-sm">Staged</th><th scope="col" class="num hide-sm">Unhealthy</th>
            <th scope="col" class="hide-sm">Deployment</th><th scope="col">Why instances wait</th>
          </tr></thead>
          <tbody ref=${bodyRef}>
            ${win.first > 0 && html`<tr class="spacer" aria-hidden="true"><td colspan="9" style=${'height:' + win.first * win.height + 'px'}></td></tr>`}
            ${rows.slice(win.first, win.last).map((row, i) => (row.kind === 'group'
              ? html`<${GroupRow} key=${'g' + row.id} row=${row} toggle=${toggle} index=${win.first + i + 2} />`
              : html`<${AppRow} key=${'a' + row.id} row=${row} sig=${row.item.sig + '|' + row.depth + '|' + (win.first + i)} index=${win.first + i + 2} />`))}
            ${win.last < rows.length && html`<tr class="spacer" aria-hidden="true"><td colspan="9" style=${'height:' + (rows.length - win.last) * win.height + 'px'}></td></tr>`}
          </tbody>
        </table>
        ${rows.length === 0 && html`<p class="muted" style="padding:0 1rem">${items.length
          ? 'No app matches the filters.'
          : html`No apps are deployed. Apply a configuration: <code>stride apply DIR</code>.`}</p>`}
      </div>`}`;
}
