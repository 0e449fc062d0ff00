// pages/events.js: a live tail of the event stream (/v2/events), newest first,
// filtered by type and app. It shows what arrived since the UI was opened (the
// last 500 events), and can be paused.
import { html, useState, useEffect, useMemo } from '../lib.js';
import { getStream, useNow, Time, appHref, hashFor, stateName } from '../util.js';

const knownTypes = [
  'status_update_event', 'health_status_changed_event', 'failed_health_check_event', 'unhealthy_instance_kill_event',
  'instances_unplaced_event', 'deployment_info', 'deployment_step_success', 'deployment_success', 'deployment_failed',
  'group_change_success', 'app_terminated_event', 'api_post_event', 'scheduler_registered_event', 'scheduler_disconnected_event',
];

/** The apps an event is about. */
function appsOf(ev) {
  const d = ev.data || {};
  if (d.appId) return [d.appId];
  if (d.runSpecId) return [d.runSpecId];
  const plan = d.plan;
  if (plan && Array.isArray(plan.steps)) {
    const ids = new Set();
    for (const s of plan.steps) for (const a of s.actions || []) if (a.app) ids.add(a.app);
    return [...ids];
  }
  return [];
}

/** One line saying what happened. */
function summary(ev) {
  const d = ev.data || {};
  switch (ev.type) {
    case 'status_update_event':
      return `${stateName(d.taskStatus)}: ${d.taskId}${d.host ? ' on ' + d.host : ''}${d.message ? ' — ' + d.message : ''}`;
    case 'health_status_changed_event':
      return `${d.taskId || d.instanceId} is ${d.alive ? 'healthy' : 'unhealthy'}`;
    case 'failed_health_check_event':
      return `health check failed: ${d.taskId}`;
    case 'unhealthy_instance_kill_event':
      return `killed unhealthy ${d.taskId}${d.reason ? ': ' + d.reason : ''}`;
    case 'instances_unplaced_event':
      return `${d.count} instance(s) cannot be placed: ${d.reason}`;
    case 'deployment_info':
    case 'deployment_step_success':
    case 'deployment_step_failure': {
      const acts = ((d.currentStep && d.currentStep.actions) || []).map((a) => `${a.action} ${a.app}`).join(', ');
      return `deployment ${(d.plan && d.plan.id) || ''}${acts ? ': ' + acts : ''}`;
    }
    case 'deployment_success':
      return `deployment ${d.id || (d.plan && d.plan.id) || ''} succeeded`;
    case 'deployment_failed':
      return `deployment ${d.id || (d.plan && d.plan.id) || ''} failed${d.reason ? ': ' + d.reason : ''}`;
    case 'group_change_success':
      return `group ${d.groupId} changed (version ${d.version})`;
    case 'event_stream_attached':
      return `this page's event stream attached (from ${d.remoteAddress})`;
    case 'app_terminated_event':
      return `app ${d.appId} terminated`;
    default:
      return '';
  }
}

export function EventsPage({ params }) {
  const now = useNow();
  const stream = getStream();
  const [events, setEvents] = useState(() => stream.recent.slice().reverse());
  const [paused, setPaused] = useState(false);
  const [held, setHeld] = useState(0);
  const [type, setType] = useState(params.get('type') || '');
  const [app, setApp] = useState(params.get('app') || '');

  useEffect(() => {
    history.replaceState(null, '', hashFor('/events', { type, app }));
  }, [type, app]);

  useEffect(() => stream.on(() => {
    if (paused) { setHeld((n) => n + 1); return; }
    setEvents(stream.recent.slice().reverse());
  }), [paused]);

  const resume = () => { setPaused(false); setHeld(0); setEvents(stream.recent.slice().reverse()); };

  const types = useMemo(() => {
    const s = new Set(knownTypes);
    for (const ev of events) s.add(ev.type);
    return [...s].sort();
  }, [events]);

  const needle = app.trim();
  const shown = events.filter((ev) => (!type || ev.type === type) && (!needle || appsOf(ev).some((id) => id.includes(needle))));

  return html`
    <h1>Events</h1>
    <p class="sub">The server's event stream, live: what happened since this page was opened (the last 500 events).</p>
    <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
      <label class="field">Type
        <select value=${type} onChange=${(e) => setType(e.target.value)} name="type">
          <option value="">All types</option>
          ${types.map((t) => html`<option value=${t}>${t}</option>`)}
        </select>
      </label>
      <label class="field">App
        <input type="search" value=${app} onInput=${(e) => setApp(e.target.value)} placeholder="/shop/web" name="app" autocomplete="off" />
      </label>
      ${paused
        ? html`<button type="button" class="primary" onClick=${resume}>Resume${held ? ` (${held} new)` : ''}</button>`
        : html`<button type="button" onClick=${() => setPaused(true)}>Pause</button>`}
      <span class="muted" aria-live="polite" data-shown=${shown.length}>${shown.length} of ${events.length} shown</span>
    </form>
    <div class="table-wrap">
      <table class="events">
        <caption class="sr-only">Events, newest first</caption>
        <thead><tr><th scope="col">When</th><th scope="col">Type</th><th scope="col" class="hide-sm">App</th><th scope="col">What</th></tr></thead>
        <tbody>${shown.map((ev) => html`<tr key=${ev.seq} data-event=${ev.type} data-event-id=${ev.id || ''}>
          <td><${Time} iso=${ev.data.timestamp} now=${now} /></td>
          <td><code>${ev.type}</code></td>
          <td class="hide-sm">${appsOf(ev).slice(0, 3).map((id, i) => html`${i ? ', ' : ''}<a href=${appHref(id)}>${id}</a>`)}</td>
          <td>${summary(ev)}
            <details><summary>JSON</summary><pre>${JSON.stringify(ev.data, null, 2)}</pre></details></td>
        </tr>`)}</tbody>
      </table>
      ${shown.length === 0 && html`<p class="muted" style="padding:0 1rem">${events.length ? 'No event matches the filters.' : 'Waiting for events…'}</p>`}
    </div>`;
}
