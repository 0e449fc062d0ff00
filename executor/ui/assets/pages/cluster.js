// pages/cluster.js: the leader, the server's version, the Mesos master and its
// agents (hostname, attributes, used and free resources, Stride's tasks).
import { html } from '../lib.js';
import { useLive, appHref, fmtNum, ErrorNotice } from '../util.js';

function Resource({ name, used, total, unit }) {
  const p = total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0;
  return html`
    <span>${name}</span>
    <div>
      <div class="bar" role="meter" aria-label=${`${name} used`} aria-valuemin="0" aria-valuemax=${total} aria-valuenow=${used}>
        <span style=${`width:${p}%`}></span></div>
      <div class="amount">${fmtNum(used)} of ${fmtNum(total)}${unit ? ' ' + unit : ''} used · ${fmtNum(Math.max(total - used, 0))} free</div>
    </div>`;
}

function Agent({ a }) {
  const attrs = Object.entries(a.attributes || {}).sort(([x], [y]) => (x < y ? -1 : 1));
  return html`<article class="panel agent" data-agent=${a.hostname} aria-labelledby=${'agent-' + a.id}>
    <div class="row">
      <h3 id=${'agent-' + a.id}>${a.hostname}</h3>
      <span class=${'status ' + (a.active ? 'healthy' : 'unhealthy')}>${a.active ? 'Active' : 'Inactive'}</span>
    </div>
    <div class="muted mono" title="Mesos agent id">${a.id}</div>
    <div>${attrs.length ? attrs.map(([k, v]) => html`<span class="chip">${k}: ${String(v)}</span>`) : html`<span class="muted">no attributes</span>`}</div>
    <div class="res">
      <${Resource} name="cpus" used=${a.used.cpus} total=${a.total.cpus} />
      <${Resource} name="mem" used=${a.used.mem} total=${a.total.mem} unit="MB" />
      <${Resource} name="disk" used=${a.used.disk} total=${a.total.disk} unit="MB" />
      <${Resource} name="ports" used=${a.used.portCount} total=${a.total.portCount} />
      ${a.total.gpus > 0 && html`<${Resource} name="gpus" used=${a.used.gpus} total=${a.total.gpus} />`}
    </div>
    <div data-agent-tasks=${a.tasks}><strong>${a.tasks}</strong> Stride ${a.tasks === 1 ? 'task' : 'tasks'}${a.apps.length ? ': ' : ''}
      ${a.apps.map((x, i) => html`${i ? ', ' : ''}<a href=${appHref(x.id)}>${x.id}</a> × ${x.tasks}`)}</div>
    ${a.total.ports && html`<div class="muted">ports ${a.total.ports}</div>`}
  </article>`;
}

export function ClusterPage() {
  const res = useLive('/stride/v1/cluster', {
    interest: (ev) => ev.type === 'status_update_event' || ev.type.startsWith('scheduler_'),
    throttle: 2000,
    poll: 10000,
  });
  const c = res.data;
  return html`
    <h1>Cluster</h1>
    <${ErrorNotice} error=${res.error} what="the cluster" />
    ${c && html`
      <dl class="facts panel" data-cluster>
        <dt>Leader</dt><dd data-leader>${c.leader || html`<span class="status waiting">no leader</span>`}</dd>
        <dt>Stride version</dt><dd data-version>${c.version}</dd>
        <dt>Mesos master</dt><dd>${c.mesos.url} <span class=${'status ' + (c.mesos.connected ? 'healthy' : 'unhealthy')}>${c.mesos.connected ? 'Connected' : 'Disconnected'}</span></dd>
        <dt>Framework id</dt><dd class="mono">${c.mesos.frameworkId || '—'}</dd>
        <dt>Agents</dt><dd data-agent-count=${c.agents.length}>${c.agents.length} (${c.agents.filter((a) => a.active).length} active)</dd>
      </dl>
      ${c.mesos.error && html`<div class="notice error" role="alert">The agents could not be read from the master: ${c.mesos.error}</div>`}
      <div class="agents">${c.agents.map((a) => html`<${Agent} key=${a.id} a=${a} />`)}</div>`}`;
}
