// pages/app.js: one app: its tasks, why instances wait, its last failure, its
// running deployment, its versions with the field diff between any two, and
// the actions (scale, restart, suspend, kill a task, roll back), each confirmed
// and showing the deployment it started.
import { html, useState, useMemo, useRef } from '../lib.js';
import { appPath } from '../api.js';
import {
  useLive, useNow, Time, Status, appHealth, taskHealth, stateName, shortID, touchesApp, deploymentHref,
  useAction, ConfirmDialog, ActionResult, send, ErrorNotice, jsonValue, fmtNum, hashFor,
} from '../util.js';
import { RolloutLine } from './deployments.js';

const maxInstances = 100000;

function portLinks(task) {
  const ports = task.ports || [];
  if (!task.host) return html`<span class="muted">—</span>`;
  if (!ports.length) return html`<span>${task.host}</span>`;
  return ports.map((p, i) => html`${i ? ', ' : ''}<a href=${`http://${task.host}:${p}/`} target="_blank" rel="noopener noreferrer"
    title=${`Open http://${task.host}:${p}/ in a new tab`}>${task.host}:${p}</a>`);
}

function TaskRow({ task, app, now, current, onKill }) {
  const h = taskHealth(task, app);
  const old = task.version && current && task.version < current;
  return html`<tr data-task=${task.id} data-state=${task.state}>
    <td class="mono" title=${task.id}>${shortID(task.id)}</td>
    <td>${portLinks(task)}</td>
    <td>${stateName(task.state)}</td>
    <td><${Status} h=${h} /></td>
    <td><${Time} iso=${task.startedAt || task.stagedAt} now=${now} /></td>
    <td class="hide-sm"><${Time} iso=${task.version} now=${now} />${old ? html` <span class="status neutral" title="runs an older configuration than the app's">old</span>` : ''}</td>
    <td><div class="row">
      <button type="button" class="small danger" data-kill=${task.id} onClick=${() => onKill(task, false)}
        aria-label=${'Kill task ' + task.id}>Kill</button>
      <button type="button" class="small danger" data-kill-scale=${task.id} onClick=${() => onKill(task, true)}
        aria-label=${'Kill task ' + task.id + ' and scale down'}>Kill & scale down</button>
    </div></td>
  </tr>`;
}

/** A field diff rendered as `stride plan` renders an app's block. */
export function DiffView({ diff }) {
  if (!diff) return null;
  if (!diff.fields.length) return html`<p class="muted" data-diff="none">These two versions do not differ.</p>`;
  const actionText = {
    restart: diff.only_violating ? 'a restart of the tasks that break the new placement' : 'a restart: every task is replaced',
    scale: 'a scale: tasks are started or stopped, none replaced',
    update: 'an update in place: no task is touched',
  }[diff.action] || diff.action;
  return html`<div data-diff=${diff.action}>
    <p>Deploying the second version over the first is ${actionText}${diff.reason ? html`, because <code>${diff.reason}</code>` : ''}.</p>
    <div class="diff" role="list" aria-label="Changed fields">
      ${diff.fields.map((f) => {
        let mark, cls, value;
        if (f.before === null || f.before === undefined) { mark = '+'; cls = 'mark-add'; value = jsonValue(f.after); }
        else if (f.after === null || f.after === undefined) { mark = '-'; cls = 'mark-del'; value = jsonValue(f.before); }
        else { mark = '~'; cls = 'mark-chg'; value = `${jsonValue(f.before)} -> ${jsonValue(f.after)}`; }
        return html`<div class="line" role="listitem" data-path=${f.path} data-forces-restart=${f.forces_restart ? 'true' : 'false'}><span class=${cls}>${mark}</span> ${f.path} = ${value}${f.forces_restart ? html` <span class="note"># forces restart</span>` : ''}</div>`;
      })}
    </div>
  </div>`;
}

function Versions({ id, app, action, now }) {
  const hist = useLive(`/stride/v1/apps/${appPath(id)}/history`, {
    interest: (ev) => (ev.type.startsWith('deployment_') || ev.type === 'api_post_event') && touchesApp(ev, id),
    throttle: 1000,
  });
  const versions = (hist.data && hist.data.versions) || [];
  const [sel, setSel] = useState({ from: '', to: '' });
  // Default: the previous version against the newest.
  const to = sel.to || (versions[0] && versions[0].version) || '';
  const from = sel.from || (versions[1] && versions[1].version) || to;
  const diffPath = to ? `/stride/v1/apps/${appPath(id)}/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}` : null;
  const diff = useLive(diffPath, { interest: () => false, poll: 0 });
  const current = hist.data && hist.data.current;

  const rollback = (v) => action.ask({
    title: `Roll back ${id}?`,
    body: html`<p>Deploys <code>${id}</code> as it was at version <strong>${v.version}</strong> (<${Time} iso=${v.version} now=${now} />),
      rolling within the app's upgrade strategy.</p>`,
    confirm: 'Roll back',
    run: (force) => send('PUT', `/v2/apps/${appPath(id)}${force ? '?force=true' : ''}`, { version: v.version }),
    done: () => `Rolling back ${id} to ${v.version}.`,
  });

  return html`<section aria-labelledby="versions-h">
    <h2 id="versions-h">Versions</h2>
    <${ErrorNotice} error=${hist.error} what="the version history" />
    ${versions.length > 0 && html`
      <div class="table-wrap">
        <table class="versions">
          <caption class="sr-only">Recorded versions, newest first; pick two to compare</caption>
          <thead><tr><th scope="col">From</th><th scope="col">To</th><th scope="col">Version</th><th scope="col">Change</th>
            <th scope="col" class="num hide-sm">Instances</th><th scope="col"></th></tr></thead>
          <tbody>${versions.map((v) => html`<tr data-version=${v.version}>
            <td><input type="radio" name="from" checked=${from === v.version} aria-label=${'Compare from ' + v.version}
              onChange=${() => setSel({ from: v.version, to })} /></td>
            <td><input type="radio" name="to" checked=${to === v.version} aria-label=${'Compare to ' + v.version}
              onChange=${() => setSel({ from, to: v.version })} /></td>
            <td><${Time} iso=${v.version} now=${now} /> <span class="muted mono hide-sm nowrap">${v.version}</span>
              ${v.version === current ? html` <span class="status healthy">current</span>` : ''}</td>
            <td>${v.action ? html`<strong>${v.action}</strong>` : ''}${v.reason ? html` <code>${v.reason}</code>` : ''}
              ${v.changed > 1 ? html` <span class="muted">(${v.changed} fields)</span>` : ''}</td>
            <td class="num hide-sm">${v.instances}</td>
            <td>${v.version !== current && current
              ? html`<button type="button" class="small" data-rollback=${v.version} onClick=${() => rollback(v)}>Roll back to this</button>` : ''}</td>
          </tr>`)}</tbody>
        </table>
      </div>
      <h3>Diff <span class="muted">from the version of <${Time} iso=${from} now=${now} /> to the version of <${Time} iso=${to} now=${now} /></span></h3>
      <${ErrorNotice} error=${diff.error} what="the diff" />
      <${DiffView} diff=${diff.data} />`}
    ${hist.data && versions.length === 0 && html`<p class="muted">No version is recorded.</p>`}
  </section>`;
}

export function AppPage({ id }) {
  const now = useNow();
  const path = `/v2/apps/${appPath(id)}?embed=app.tasks&embed=app.lastTaskFailure`;
  const res = useLive(path, { interest: (ev) => touchesApp(ev, id), throttle: 400 });
  const queue = useLive('/stride/v1/queue', { interest: (ev) => touchesApp(ev, id), throttle: 700 });
  const deps = useLive('/stride/v1/deployments?limit=0', {
    interest: (ev) => ev.type.startsWith('deployment_') || touchesApp(ev, id), throttle: 500,
  });
  const action = useAction();
  const app = res.data && res.data.app;
  const wait = ((queue.data && queue.data.queue) || []).find((w) => w.id === id) || null;
  const running = ((deps.data && deps.data.running) || []).filter((d) => d.steps.some((s) => s.actions.some((a) => a.id === id)));
  const [scaleTo, setScaleTo] = useState('');
  const scaleRef = useRef('');
  scaleRef.current = scaleTo;

  const tasks = useMemo(() => (app && app.tasks ? [...app.tasks].sort((a, b) => (a.id < b.id ? -1 : 1)) : []), [app]);

  if (res.error && res.error.status === 404) {
    return html`<h1>${id}</h1><div class="notice warn" role="alert">${res.error.message}. It may have been destroyed. <a href="#/apps">All apps</a></div>`;
  }
  if (!app) return html`<h1>${id}</h1><${ErrorNotice} error=${res.error} what="the app" />${!res.error && html`<p>Loading…</p>`}`;

  const health = appHealth(app, wait);
  const cfgVersion = (app.versionInfo && app.versionInfo.lastConfigChangeAt) || app.version;
  const base = `/v2/apps/${appPath(id)}`;

  const scale = () => {
    setScaleTo(String(app.instances));
    action.ask({
      kind: 'scale',
      title: `Scale ${id}`,
      body: null,
      confirm: 'Scale',
      run: (force) => send('PUT', base + (force ? '?force=true' : ''), { instances: Number(scaleRef.current) }),
      done: () => `Scaling ${id} to ${scaleRef.current} instances.`,
    });
  };
  const restart = () => action.ask({
    title: `Restart ${id}?`,
    body: html`<p>Replaces all ${app.instances} tasks with new ones, rolling within the upgrade strategy
      (minimum health capacity ${fmtNum((app.upgradeStrategy || {}).minimumHealthCapacity)}, maximum over capacity ${fmtNum((app.upgradeStrategy || {}).maximumOverCapacity)}).</p>`,
    confirm: 'Restart',
    danger: true,
    run: (force) => send('POST', `${base}/restart${force ? '?force=true' : ''}`, {}),
    done: () => `Restarting ${id}.`,
  });
  const suspend = () => action.ask({
    title: `Suspend ${id}?`,
    body: html`<p>Scales <code>${id}</code> to 0 instances: its ${app.tasksRunning} running tasks are killed. Scale it up again to resume.</p>`,
    confirm: 'Suspend',
    danger: true,
    run: (force) => send('PUT', base + (force ? '?force=true' : ''), { instances: 0 }),
    done: () => `Suspending ${id}.`,
  });
  const kill = (task, scaleDown) => action.ask({
    title: scaleDown ? 'Kill the task and scale down?' : 'Kill the task?',
    body: html`<p>Kills task <code>${task.id}</code> on ${task.host || 'its agent'}.
      ${scaleDown ? ` The app is scaled down to ${Math.max(app.instances - 1, 0)} instances: it is not replaced.` : ' Stride starts a replacement.'}</p>`,
    confirm: scaleDown ? 'Kill and scale down' : 'Kill',
    danger: true,
    run: () => send('DELETE', `${base}/tasks/${encodeURIComponent(task.id)}${scaleDown ? '?scale=true' : ''}`),
    done: () => (scaleDown ? `Killed ${task.id}; ${id} scales down.` : `Killed ${task.id}; a replacement is starting.`),
  });

  let dialogBody = null;
  let invalid = false;
  if (action.pending && action.pending.kind === 'scale') {
    const n = Number(scaleTo);
    invalid = scaleTo.trim() === '' || !Number.isInteger(n) || n < 0 || n > maxInstances;
    dialogBody = html`<label class="field">Instances (now ${app.instances})
        <input id="scale-to" type="number" min="0" max=${maxInstances} step="1" value=${scaleTo} required
          onInput=${(e) => setScaleTo(e.target.value)}
          onKeyDown=${(e) => { if (e.key === 'Enter' && !invalid) { e.preventDefault(); action.run(false); } }} aria-invalid=${invalid ? 'true' : 'false'} /></label>
      ${invalid && html`<p class="muted">A whole number from 0 to ${maxInstances}.</p>`}`;
  }

  const lf = app.lastTaskFailure;
  return html`
    <nav class="muted" aria-label="Breadcrumb"><a href="#/apps">Apps</a> / ${id.split('/').filter(Boolean).slice(0, -1).map((s, i, all) => {
      const group = '/' + all.slice(0, i + 1).join('/') + '/';
      return html`<a href=${hashFor('/apps', { q: group })} title=${'The apps under ' + group}>${s}</a> / `;
    })}</nav>
    <div class="row"><h1>${id}</h1> <${Status} h=${health} /></div>
    <p class="sub" data-counts>
      <span data-col="instances">${app.instances}</span> instances${' · '}
      <span data-col="running">${app.tasksRunning}</span> running${' · '}
      <span data-col="healthy">${app.tasksHealthy}</span> healthy${' · '}
      <span data-col="staged">${app.tasksStaged}</span> staged${' · '}
      <span data-col="unhealthy">${app.tasksUnhealthy}</span> unhealthy${' · '}
      version <${Time} iso=${app.version} now=${now} />
    </p>
    <div class="row" role="toolbar" aria-label="Actions">
      <button type="button" class="primary" data-action="scale" onClick=${scale}>Scale…</button>
      <button type="button" data-action="restart" onClick=${restart}>Restart</button>
      <button type="button" data-action="suspend" onClick=${suspend} disabled=${app.instances === 0}>Suspend</button>
    </div>
    <p></p>
    <${ActionResult} action=${action} />
    <${ConfirmDialog} action=${action} body=${dialogBody} invalid=${invalid} />
    ${running.map((d) => html`<div class="panel" data-app-deployment=${d.id}>
      <h3>Deployment <a href=${deploymentHref(d.id)} title=${d.id}>${shortID(d.id)}</a> is running${' '}
        <span class="muted">(step ${d.currentStep + 1} of ${d.totalSteps}, started <${Time} iso=${d.createdAt} now=${now} />)</span></h3>
      ${d.steps.flatMap((s) => s.actions).filter((a) => a.id === id).map((a) => html`<${RolloutLine} a=${a} />`)}
    </div>`)}
    ${wait && (wait.waiting || wait.delaySeconds > 0) && html`<div class="notice warn" data-waiting>
      <strong>${wait.pending || Math.max(app.instances - app.tasksRunning - app.tasksStaged, 0)} instance(s) waiting.</strong>
      ${wait.waiting ? html` ${wait.waiting}` : ''}
      ${wait.delaySeconds > 0 ? html` Backing off: the next launch is in ${Math.ceil(wait.delaySeconds)} s.` : ''}
    </div>`}
    ${lf && html`<div class="panel" data-last-failure>
      <h3>Last task failure</h3>
      <dl class="facts">
        <dt>When</dt><dd><${Time} iso=${lf.timestamp} now=${now} /></dd>
        <dt>State</dt><dd>${stateName(lf.state)}</dd>
        <dt>Message</dt><dd>${lf.message || '—'}</dd>
        <dt>Task</dt><dd class="mono">${lf.taskId} on ${lf.host || '—'}</dd>
      </dl>
    </div>`}
    <section aria-labelledby="tasks-h">
      <h2 id="tasks-h">Tasks <span class="muted">(${tasks.length})</span></h2>
      <div class="table-wrap">
        <table class="tasks">
          <caption class="sr-only">The app's tasks</caption>
          <thead><tr><th scope="col">Task</th><th scope="col">Host:port</th><th scope="col">State</th><th scope="col">Health</th>
            <th scope="col">Started</th><th scope="col" class="hide-sm">Version</th><th scope="col">Actions</th></tr></thead>
          <tbody>${tasks.map((t) => html`<${TaskRow} key=${t.id} task=${t} app=${app} now=${now} current=${cfgVersion} onKill=${kill} />`)}</tbody>
        </table>
        ${tasks.length === 0 && html`<p class="muted" style="padding:0 1rem">No task is running.</p>`}
      </div>
    </section>
    <${Versions} id=${id} app=${app} action=${action} now=${now} />
    <section aria-labelledby="def-h">
      <h2 id="def-h">Definition</h2>
      <dl class="facts panel">
        <dt>Command</dt><dd>${app.cmd ? html`<code>${app.cmd}</code>` : (app.args || []).length ? html`<code>${app.args.join(' ')}</code>` : '—'}</dd>
        <dt>Resources</dt><dd>${fmtNum(app.cpus)} cpus · ${fmtNum(app.mem)} MB mem · ${fmtNum(app.disk)} MB disk${app.gpus ? ` · ${app.gpus} gpus` : ''}</dd>
        <dt>Labels</dt><dd>${Object.keys(app.labels || {}).length ? Object.entries(app.labels).map(([k, v]) => html`<span class="chip">${k}=${v}</span>`) : '—'}</dd>
        <dt>Constraints</dt><dd>${(app.constraints || []).length ? app.constraints.map((c) => html`<span class="chip">${c.join(' ')}</span>`) : '—'}</dd>
        <dt>Health checks</dt><dd>${(app.healthChecks || []).length ? app.healthChecks.map((c) => html`<span class="chip">${c.protocol || 'HTTP'}${c.path ? ' ' + c.path : ''} every ${c.intervalSeconds} s</span>`) : '—'}</dd>
        <dt>Dependencies</dt><dd>${(app.dependencies || []).length ? app.dependencies.map((d) => html`<span class="chip">${d}</span>`) : '—'}</dd>
      </dl>
    </section>`;
}
