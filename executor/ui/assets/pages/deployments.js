// pages/deployments.js: running deployments with their steps, the current one,
// each app's rollout (new tasks healthy of the target, old ones left, the
// rolling bounds, what it waits for), cancel and revert; then the recent ones.
import { html, useEffect, useRef } from '../lib.js';
import { useLive, useNow, Time, shortID, appHref, useAction, ConfirmDialog, ActionResult, send, ErrorNotice, parseTime } from '../util.js';

const actionVerb = { create: 'create', destroy: 'destroy', scale: 'scale', restart: 'restart', update: 'update' };

function pct(n, d) {
  if (!d) return n > 0 ? 100 : 0;
  return Math.max(0, Math.min(100, Math.round((n / d) * 100)));
}

/** What one app's action waits for, in words ("" when done). */
export function waitsFor(a) {
  const l = a.live;
  if (!l || l.done) return '';
  if (l.waiting) return l.waiting;
  if (l.delaySeconds > 0) return `backing off: next launch in ${Math.ceil(l.delaySeconds)} s`;
  if (a.action === 'destroy') return `${l.old} task(s) to stop`;
  if (l.new < l.target) return `${l.target - l.new} new task(s) to start`;
  if (l.newHealthy < l.target) return `${l.target - l.newHealthy} new task(s) to become healthy`;
  if (l.old > 0) return `${l.old} old task(s) to stop`;
  if (l.new > l.target) return `${l.new - l.target} task(s) to stop`;
  return '';
}

/** One app's rollout: a bar and the numbers. */
export function RolloutLine({ a }) {
  const l = a.live;
  const b = a.bounds;
  return html`<div class="action" data-rollout=${a.id} data-new-healthy=${l ? l.newHealthy : ''} data-target=${l ? l.target : ''}
      data-old=${l ? l.old : ''} data-done=${l && l.done ? 'true' : 'false'}>
    <div class="progress">
      <div><span class="what">${actionVerb[a.action] || a.action} <a href=${appHref(a.id)}>${a.id}</a></span></div>
      ${l ? html`<div class="bar" role="progressbar" aria-label=${`${a.id}: new tasks healthy`} aria-valuemin="0"
          aria-valuemax=${l.target} aria-valuenow=${Math.min(l.newHealthy, l.target)}>
          <span style=${`width:${pct(l.newHealthy, l.target)}%`}></span></div>` : html`<div></div>`}
    </div>
    ${l && html`<div class="counts">
      <strong>${l.newHealthy} of ${l.target}</strong> new tasks healthy · ${l.new} new · ${l.old} old left · ${l.running} running${l.staged ? ` · ${l.staged} staging` : ''}
      ${l.done ? html` · <span class="status healthy">done</span>` : ''}
    </div>`}
    ${b && html`<div class="muted">Rolling ${b.from} → ${b.to} instances: at least ${b.min_healthy} healthy, at most ${b.max_running} running.</div>`}
    ${a.reason && html`<div class="muted">Because <code>${a.reason}</code></div>`}
    ${l && !l.done && waitsFor(a) && html`<div class="why" data-waits>Waits for: ${waitsFor(a)}</div>`}
  </div>`;
}

function RunningDeployment({ d, now, highlight, action }) {
  const ref = useRef(null);
  useEffect(() => { if (highlight && ref.current) ref.current.scrollIntoView({ block: 'nearest' }); }, [highlight]);
  const cur = d.steps[d.currentStep];
  const waiting = cur ? cur.actions.filter((a) => a.live && !a.live.done) : [];
  const cancel = () => action.ask({
    title: 'Cancel the deployment?',
    body: html`<p>Stops deployment <code>${d.id}</code> where it is: tasks already replaced stay replaced and the apps keep their new definitions. Nothing is rolled back.</p>`,
    confirm: 'Cancel the deployment',
    danger: true,
    run: () => send('DELETE', `/v2/deployments/${encodeURIComponent(d.id)}?force=true`),
    done: () => `Deployment ${shortID(d.id)} cancelled.`,
  });
  const revert = () => action.ask({
    title: 'Revert the deployment?',
    body: html`<p>Starts a new deployment that takes the apps of <code>${d.id}</code> back to where they were before it, rolling within their upgrade strategies.</p>`,
    confirm: 'Revert',
    danger: true,
    run: () => send('DELETE', `/v2/deployments/${encodeURIComponent(d.id)}`),
    done: (r) => `Reverting deployment ${shortID(d.id)}.`,
  });
  return html`<article class=${'panel deployment' + (highlight ? ' highlight' : '')} ref=${ref} data-deployment=${d.id} data-step=${d.currentStep}
      aria-labelledby=${'dep-' + d.id}>
    <div class="row">
      <h2 id=${'dep-' + d.id} style="margin:0">Deployment <span class="mono" title=${d.id}>${shortID(d.id)}</span></h2>
      <span class="status deploying">Running</span>
      <span class="muted">started <${Time} iso=${d.createdAt} now=${now} /> · step ${d.currentStep + 1} of ${d.totalSteps}</span>
      <span class="spacer"></span>
      <button type="button" data-cancel=${d.id} onClick=${cancel}>Cancel</button>
      <button type="button" class="danger" data-revert=${d.id} onClick=${revert}>Revert</button>
    </div>
    ${waiting.length > 0 && html`<p class="why">Waiting for ${waiting.map((a, i) => html`${i ? '; ' : ''}<a href=${appHref(a.id)}>${a.id}</a>: ${waitsFor(a)}`)}</p>`}
    <ol class="steps">
      ${d.steps.map((s, i) => {
        const state = i < d.currentStep ? 'done' : i === d.currentStep ? 'current' : 'pending';
        return html`<li class=${state} aria-current=${state === 'current' ? 'step' : null}>
          <div class="step-head">Step ${i + 1}: ${state === 'done' ? 'done' : state === 'current' ? 'in progress' : 'waits for the steps before it'}</div>
          ${state === 'current'
            ? s.actions.map((a) => html`<${RolloutLine} key=${a.id} a=${a} />`)
            : html`<div>${s.actions.map((a, j) => html`${j ? ', ' : ''}${actionVerb[a.action] || a.action} <a href=${appHref(a.id)}>${a.id}</a>`)}</div>`}
        </li>`;
      })}
    </ol>
  </article>`;
}

function duration(d) {
  const a = parseTime(d.createdAt);
  const b = parseTime(d.finishedAt);
  if (a === null || b === null) return '—';
  const s = Math.max(0, Math.round((b - a) / 1000));
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

export function DeploymentsPage({ params }) {
  const now = useNow();
  const res = useLive('/stride/v1/deployments?limit=20', {
    interest: (ev) => ev.type !== 'event_stream_attached' && ev.type !== 'scheduler_registered_event',
    throttle: 300,
  });
  const action = useAction();
  const highlight = params.get('id') || '';
  const data = res.data;
  return html`
    <h1>Deployments</h1>
    <p class="sub">Running deployments move as their tasks start and pass their health checks.</p>
    <${ActionResult} action=${action} />
    <${ConfirmDialog} action=${action} />
    <${ErrorNotice} error=${res.error} what="the deployments" />
    ${data && html`
      <section aria-labelledby="running-h">
        <h2 id="running-h">Running <span class="muted" data-running-count=${data.running.length}>(${data.running.length})</span></h2>
        ${data.running.length === 0 && html`<p class="muted">No deployment is running.</p>`}
        ${data.running.map((d) => html`<${RunningDeployment} key=${d.id} d=${d} now=${now} highlight=${d.id === highlight} action=${action} />`)}
      </section>
      <section aria-labelledby="recent-h">
        <h2 id="recent-h">Recent</h2>
        ${data.recent.length === 0 ? html`<p class="muted">None yet.</p>` : html`
        <div class="table-wrap"><table class="recent">
          <caption class="sr-only">Finished deployments, newest first</caption>
          <thead><tr><th scope="col">Deployment</th><th scope="col">Status</th><th scope="col">Apps</th>
            <th scope="col" class="hide-sm">Started</th><th scope="col">Finished</th><th scope="col" class="num hide-sm">Took</th></tr></thead>
          <tbody>${data.recent.map((d) => html`<tr data-recent=${d.id} data-status=${d.status} class=${d.id === highlight ? 'deployment highlight' : ''}>
            <td class="mono" title=${d.id}>${shortID(d.id)}</td>
            <td><span class=${'status ' + d.status}>${d.status}</span>${d.reason ? html`<div class="muted">${d.reason}</div>` : ''}</td>
            <td>${d.steps.flatMap((s) => s.actions).map((a, j) => html`${j ? ', ' : ''}${actionVerb[a.action] || a.action} <a href=${appHref(a.id)}>${a.id}</a>`)}</td>
            <td class="hide-sm"><${Time} iso=${d.createdAt} now=${now} /></td>
            <td><${Time} iso=${d.finishedAt} now=${now} /></td>
            <td class="num hide-sm">${duration(d)}</td>
          </tr>`)}</tbody>
        </table></div>`}
      </section>`}`;
}
