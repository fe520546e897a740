// Riposte's web console: plain JavaScript, no dependencies, no build step.
//
// Every value that comes from the API is untrusted: it reaches the page
// through textContent, dataset and plain attributes only, never as HTML.
'use strict';

(function () {
  // PAGE is how many active responses one request asks for: the server
  // pages, so the page never holds more than this many rows.
  const PAGE = 50;
  // The fallback poll, in seconds; ?poll=N on the page's address changes
  // it and ?poll=0 turns it off (live updates then come from the stream
  // alone).
  const POLL_S = (() => {
    const v = new URLSearchParams(location.search).get('poll');
    const n = v === null ? NaN : Number(v);
    return Number.isFinite(n) && n >= 0 ? n : 10;
  })();
  const DEBOUNCE_MS = 250;
  const MAX_RUNS = 500;
  const TABS = ['agents', 'active', 'runs', 'allowlist', 'run'];
  const TOKEN_KEY = 'riposte.token';
  const USER_KEY = 'riposte.user';

  const $ = (id) => document.getElementById(id);

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    user: sessionStorage.getItem(USER_KEY) || '',
    // creds are kept in memory only (never stored), to log in again when
    // the token expires; after a reload the user logs in by hand.
    creds: null,
    relogging: null,
    tab: 'agents',
    agentNames: new Map(),
    active: {
      filter: '',
      offset: 0,
      total: 0,
      gen: 0, // bumped when the query changes, so stale replies are dropped
      pending: new Set(), // ids with an action in flight
      seq: 0, // requests sent
      // gone maps the ids undone to the last request sent before the undo
      // finished: replies to those requests may still list them.
      gone: new Map(),
    },
    es: null,
    esBackoff: 2000,
    esOpened: false,
    esTimer: 0,
    debounceTimer: 0,
    pollTimer: 0,
    tickTimer: 0,
    messageTimer: 0,
    messageFromLoad: false,
  };

  // ---- helpers -----------------------------------------------------------

  function str(v) {
    if (v === null || v === undefined) return '';
    return typeof v === 'string' ? v : String(v);
  }

  function strs(v) {
    return Array.isArray(v) ? v.map(str) : [];
  }

  function obj(v) {
    return v && typeof v === 'object' ? v : {};
  }

  function list(v) {
    if (Array.isArray(v)) return v;
    if (v && Array.isArray(v.items)) return v.items;
    return [];
  }

  function count(v, dflt) {
    const n = Number(v);
    return Number.isFinite(n) && n >= 0 ? Math.floor(n) : dflt;
  }

  // timeMs returns a timestamp's milliseconds, or NaN for a missing or
  // zero one (Go's zero time is year 1).
  function timeMs(v) {
    const ms = Date.parse(str(v));
    return Number.isFinite(ms) && ms > 0 ? ms : NaN;
  }

  function pad(n) {
    return n < 10 ? '0' + n : String(n);
  }

  function fmtTime(v) {
    const ms = timeMs(v);
    if (Number.isNaN(ms)) return '';
    const d = new Date(ms);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function fmtLeft(ms) {
    if (ms <= 0) return 'ending';
    let s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400);
    s -= d * 86400;
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    return (d ? d + 'd ' : '') + pad(h) + ':' + pad(m) + ':' + pad(s);
  }

  function fmtAgo(ms) {
    const s = Math.max(0, Math.floor((Date.now() - ms) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }

  function fmtDuration(ns) {
    const n = Number(ns);
    if (!Number.isFinite(n) || n <= 0) return '';
    const ms = n / 1e6;
    if (ms < 1000) return ms.toFixed(1) + ' ms';
    return (ms / 1000).toFixed(2) + ' s';
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = str(text);
    if (cls) e.className = cls;
    return e;
  }

  function td(text, cls) {
    return el('td', text, cls);
  }

  function timeTd(v) {
    const c = td('');
    const ms = timeMs(v);
    if (!Number.isNaN(ms)) {
      const t = el('time', fmtTime(v));
      t.dateTime = new Date(ms).toISOString();
      t.title = str(v);
      c.append(t);
    }
    return c;
  }

  function button(text, cls, title) {
    const b = el('button', text, cls);
    b.type = 'button';
    if (title) b.title = title;
    return b;
  }

  function fill(tbody, rows, empty) {
    const f = document.createDocumentFragment();
    for (const r of rows) f.append(r);
    tbody.replaceChildren(f);
    if (empty) empty.hidden = rows.length > 0;
  }

  function b64(s) {
    const bytes = new TextEncoder().encode(s);
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  }

  // ---- messages ----------------------------------------------------------

  function setMessage(text, fromLoad) {
    const m = $('message');
    clearTimeout(state.messageTimer);
    state.messageFromLoad = !!fromLoad;
    m.textContent = str(text);
    m.hidden = !text;
    if (text && !fromLoad) {
      state.messageTimer = setTimeout(() => setMessage(''), 8000);
    }
  }

  function showError(node, text) {
    node.textContent = str(text);
    node.hidden = !text;
  }

  // ---- API ---------------------------------------------------------------

  class APIError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function errorText(r) {
    let text = '';
    try {
      text = await r.text();
    } catch (e) {
      // fall through to the status
    }
    try {
      const j = JSON.parse(text);
      for (const k of ['error', 'detail', 'message', 'title']) {
        if (j && typeof j[k] === 'string' && j[k]) return j[k];
      }
    } catch (e) {
      if (text && text.length < 300) return text.trim();
    }
    return 'HTTP ' + r.status + (r.statusText ? ' ' + r.statusText : '');
  }

  async function authenticate(user, pass) {
    let r;
    try {
      r = await fetch('/security/user/authenticate', {
        method: 'POST',
        headers: { Authorization: 'Basic ' + b64(user + ':' + pass) },
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (e) {
      throw new APIError(0, 'Cannot reach the server.');
    }
    if (r.status === 401) throw new APIError(401, 'Wrong user name or password.');
    if (!r.ok) throw new APIError(r.status, await errorText(r));
    let body;
    try {
      body = await r.json();
    } catch (e) {
      throw new APIError(r.status, 'The server sent a reply that is not JSON.');
    }
    const token = obj(obj(body).data).token;
    if (typeof token !== 'string' || !token) throw new APIError(r.status, 'The server sent no token.');
    return token;
  }

  function setToken(token, user) {
    state.token = token;
    state.user = user;
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(USER_KEY, user);
  }

  // relogin gets a new token with the credentials held in memory; calls
  // that fail together share one login.
  function relogin() {
    if (!state.creds) return Promise.resolve(false);
    if (!state.relogging) {
      const { user, pass } = state.creds;
      state.relogging = authenticate(user, pass)
        .then((token) => {
          setToken(token, user);
          openStream();
          return true;
        })
        .catch(() => false)
        .finally(() => {
          state.relogging = null;
        });
    }
    return state.relogging;
  }

  async function api(method, path, body, retried) {
    const token = state.token;
    if (!token) throw new APIError(401, 'Not logged in.');
    const init = {
      method,
      headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' },
      credentials: 'omit',
      cache: 'no-store',
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (e) {
      throw new APIError(0, 'Cannot reach the server.');
    }
    if (r.status === 401) {
      if (!retried && (state.token !== token || (await relogin()))) {
        return api(method, path, body, true);
      }
      if (state.token === token) showLogin('Your session has ended; log in again.');
      throw new APIError(401, 'Not logged in.');
    }
    if (!r.ok) throw new APIError(r.status, await errorText(r));
    const text = await r.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new APIError(r.status, 'The server sent a reply that is not JSON.');
    }
  }

  // ---- refreshing --------------------------------------------------------

  const loaders = {
    agents: loadAgents,
    active: loadActive,
    runs: loadRuns,
    allowlist: loadAllowlist,
  };
  const running = {};
  const again = {};

  // refresh reloads one tab's data (the visible one by default). A call
  // while that tab is loading asks for one more load after it.
  async function refresh(name) {
    name = name || state.tab;
    const load = loaders[name];
    if (!load || !state.token) return;
    if (running[name]) {
      again[name] = true;
      return;
    }
    running[name] = true;
    try {
      do {
        again[name] = false;
        await load();
      } while (again[name] && state.token);
      if (state.messageFromLoad) setMessage('');
    } catch (e) {
      if (e.status !== 401) setMessage(e.message, true);
    } finally {
      running[name] = false;
    }
  }

  // scheduleRefresh refreshes the visible tab soon: changes that come
  // meanwhile join that refresh, so a busy server gets at most a few
  // requests a second, and a steady flow of changes cannot postpone it.
  function scheduleRefresh() {
    if (state.debounceTimer) return;
    state.debounceTimer = setTimeout(() => {
      state.debounceTimer = 0;
      refresh();
    }, DEBOUNCE_MS);
  }

  function setLive(s) {
    const l = $('live');
    l.dataset.state = s;
    l.textContent = { live: 'live', connecting: 'connecting', polling: 'polling', off: 'offline' }[s] || s;
  }

  function closeStream() {
    clearTimeout(state.esTimer);
    if (state.es) {
      state.es.close();
      state.es = null;
    }
  }

  function openStream() {
    closeStream();
    if (!state.token) return;
    if (!window.EventSource) {
      setLive('polling');
      return;
    }
    setLive('connecting');
    const es = new EventSource('/api/v1/stream?access_token=' + encodeURIComponent(state.token));
    state.es = es;
    es.addEventListener('open', () => {
      if (es !== state.es) return;
      state.esBackoff = 2000;
      setLive('live');
      // Whatever changed while the stream was down (the first time, the
      // tab has just been loaded).
      if (state.esOpened) scheduleRefresh();
      state.esOpened = true;
    });
    es.addEventListener('change', () => {
      if (es === state.es) scheduleRefresh();
    });
    es.addEventListener('error', () => {
      if (es !== state.es) return;
      if (es.readyState !== EventSource.CLOSED) {
        setLive('connecting'); // the browser reconnects by itself
        return;
      }
      // Refused (an expired token, a server restarting): poll meanwhile
      // and try again later, logging in again first if need be.
      setLive('polling');
      es.close();
      state.es = null;
      const wait = state.esBackoff;
      state.esBackoff = Math.min(state.esBackoff * 2, 30000);
      state.esTimer = setTimeout(async () => {
        await refresh(loaders[state.tab] ? state.tab : 'agents');
        if (state.token && !state.es) openStream();
      }, wait);
    });
  }

  function startTimers() {
    stopTimers();
    if (POLL_S > 0) {
      state.pollTimer = setInterval(() => {
        if (!document.hidden) refresh();
      }, POLL_S * 1000);
    }
    state.tickTimer = setInterval(tick, 1000);
  }

  function stopTimers() {
    clearInterval(state.pollTimer);
    clearInterval(state.tickTimer);
    clearTimeout(state.debounceTimer);
    state.debounceTimer = 0;
  }

  // tick updates the countdowns and "ago" times in place.
  function tick() {
    const now = Date.now();
    for (const c of document.querySelectorAll('#active-body td[data-until]')) {
      const left = Number(c.dataset.until) - now;
      c.textContent = fmtLeft(left);
      c.classList.toggle('soon', left < 60000);
    }
    for (const c of document.querySelectorAll('[data-since]')) {
      c.textContent = fmtAgo(Number(c.dataset.since));
    }
  }

  // ---- login and layout --------------------------------------------------

  function showLogin(msg) {
    closeStream();
    stopTimers();
    state.token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    setLive('off');
    setMessage('');
    $('tabs').hidden = true;
    $('session').hidden = true;
    for (const s of document.querySelectorAll('section.tab')) s.hidden = true;
    $('login').hidden = false;
    showError($('login-error'), msg || '');
    if (state.user && !$('login-user').value) $('login-user').value = state.user;
    ($('login-user').value ? $('login-pass') : $('login-user')).focus();
  }

  function showApp() {
    $('login').hidden = true;
    $('tabs').hidden = false;
    $('session').hidden = false;
    $('whoami').textContent = state.user;
    openStream();
    startTimers();
    selectTab(location.hash.slice(1));
    // The active responses show agents' names.
    if (state.tab !== 'agents') refresh('agents');
  }

  function selectTab(name) {
    if (!TABS.includes(name)) name = 'agents';
    state.tab = name;
    for (const t of TABS) $('tab-' + t).hidden = t !== name;
    for (const b of document.querySelectorAll('#tabs button')) {
      const on = b.dataset.tab === name;
      b.classList.toggle('current', on);
      if (on) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
    if (location.hash !== '#' + name) history.replaceState(null, '', '#' + name);
    refresh(name);
  }

  async function onLogin(ev) {
    ev.preventDefault();
    const user = $('login-user').value.trim();
    const pass = $('login-pass').value;
    const btn = $('login-submit');
    btn.disabled = true;
    showError($('login-error'), '');
    try {
      const token = await authenticate(user, pass);
      state.creds = { user, pass };
      setToken(token, user);
      $('login-pass').value = '';
      showApp();
    } catch (e) {
      showError($('login-error'), e.message);
    } finally {
      btn.disabled = false;
    }
  }

  function onLogout() {
    state.creds = null;
    showLogin('');
  }

  // ---- agents ------------------------------------------------------------

  const STATUS_CLASS = new Map([
    ['active', 'status-active'],
    ['disconnected', 'status-disconnected'],
    ['never_connected', 'status-never'],
    ['revoked', 'status-revoked'],
  ]);

  async function loadAgents() {
    const agents = list(await api('GET', '/api/v1/agents'));
    const names = new Map();
    const rows = agents.map((raw) => {
      const a = obj(raw);
      const last = obj(a.last);
      const id = str(a.id);
      names.set(id, str(a.name));
      const tr = el('tr');
      tr.dataset.agentId = id;
      const st = str(a.status);
      const status = td('');
      status.append(el('span', st, 'status ' + (STATUS_CLASS.get(st) || 'status-other')));
      const seen = timeTd(a.last_seen);
      const ms = timeMs(a.last_seen);
      if (!Number.isNaN(ms)) {
        const ago = el('span', fmtAgo(ms), 'ago');
        ago.dataset.since = String(ms);
        seen.append(' ', ago);
      }
      tr.append(td(id, 'id'), td(a.name), status, td(last.version), td(last.os),
        td(strs(last.addresses).join(', ')), seen);
      return tr;
    });
    state.agentNames = names;
    $('agents-total').textContent = '(' + agents.length + ')';
    fill($('agents-body'), rows, $('agents-empty'));
  }

  // ---- active responses --------------------------------------------------

  function looksLikeIP(s) {
    return /^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(s) ||
      /^[0-9a-f]*:[0-9a-f]*:[0-9a-f:.]*(\/\d{1,3})?$/i.test(s);
  }

  // parseFilter turns the filter box into query parameters: agent:ID,
  // ip:ADDR, command:NAME, a bare address or CIDR (ip), and any other
  // words (q, a substring search).
  function parseFilter(text) {
    const p = new URLSearchParams();
    const words = [];
    for (const w of text.trim().split(/\s+/)) {
      if (!w) continue;
      const m = /^(agent|ip|command|q):(.+)$/i.exec(w);
      if (m) {
        p.set(m[1].toLowerCase(), m[2]);
      } else if (looksLikeIP(w)) {
        p.set('ip', w);
      } else {
        words.push(w);
      }
    }
    if (words.length) p.set('q', (p.has('q') ? p.get('q') + ' ' : '') + words.join(' '));
    return p;
  }

  async function loadActive() {
    const a = state.active;
    const gen = a.gen;
    const seq = ++a.seq;
    const p = parseFilter(a.filter);
    p.set('offset', String(a.offset));
    p.set('limit', String(PAGE));
    const res = obj(await api('GET', '/api/v1/responses?' + p.toString()));
    if (gen !== a.gen) {
      again.active = true; // the query changed meanwhile
      return;
    }
    const items = list(res.items).slice(0, PAGE);
    const total = count(res.total, a.offset + items.length);
    if (items.length === 0 && a.offset > 0) {
      // The page emptied (responses ended or were undone): go back.
      a.offset = total > 0 ? Math.floor((total - 1) / PAGE) * PAGE : 0;
      a.gen++;
      again.active = true;
      return;
    }
    a.total = total;
    for (const [id, last] of a.gone) if (last < seq) a.gone.delete(id);
    const rows = [];
    for (const raw of items) {
      const r = obj(raw);
      const id = str(r.id);
      if (!a.gone.has(id)) rows.push(activeRow(r, id));
    }
    fill($('active-body'), rows, $('active-empty'));
    const from = items.length ? a.offset + 1 : 0;
    $('active-range').textContent = items.length ? from + '\u2013' + (a.offset + items.length) : '0';
    $('active-total').textContent = String(total);
    $('active-prev').disabled = a.offset === 0;
    $('active-next').disabled = a.offset + items.length >= total;
  }

  function activeRow(r, id) {
    const tr = el('tr');
    tr.dataset.activeId = id;
    const agent = str(r.agent);
    const agentCell = td(agent, 'id');
    const name = state.agentNames.get(agent);
    if (name) agentCell.append(' ', el('span', name, 'sub'));
    const keys = strs(r.keys);
    const target = keys.length ? keys.join(', ') : str(r.srcip || r.key);
    const untilMs = timeMs(r.until);
    const permanent = Number.isNaN(untilMs);
    const until = permanent ? td('permanent', 'permanent') : timeTd(r.until);
    const left = td(permanent ? '\u221e' : fmtLeft(untilMs - Date.now()), 'left');
    if (!permanent) {
      left.dataset.until = String(untilMs);
      left.classList.toggle('soon', untilMs - Date.now() < 60000);
    }
    const actions = td('', 'actions');
    const pending = state.active.pending.has(id);
    const undo = button('Undo', 'undo', 'Lift this response now');
    const extend = button('+1h', 'extend', 'Extend by one hour');
    actions.append(undo, extend);
    if (!permanent) actions.append(button('Permanent', 'permanent', 'Never lift it on a timer'));
    for (const b of actions.querySelectorAll('button')) b.disabled = pending;
    tr.append(agentCell, td(r.name || r.executable, 'cmd'), td(target, 'keys'), timeTd(r.added),
      until, left, td(r.backend), actions);
    return tr;
  }

  async function onActiveClick(ev) {
    const b = ev.target.closest('button');
    const tr = b && b.closest('tr[data-active-id]');
    if (!tr || b.disabled) return;
    const id = tr.dataset.activeId;
    const a = state.active;
    let path;
    let body = { id };
    if (b.classList.contains('undo')) {
      path = '/api/v1/responses/undo';
    } else if (b.classList.contains('extend')) {
      path = '/api/v1/responses/extend';
      body = { id, by: '1h0m0s' };
    } else if (b.classList.contains('permanent')) {
      path = '/api/v1/responses/permanent';
    } else {
      return;
    }
    a.pending.add(id);
    for (const x of tr.querySelectorAll('button')) x.disabled = true;
    try {
      await api('POST', path, body);
      if (path.endsWith('/undo')) {
        a.gone.set(id, a.seq);
        tr.remove();
      }
    } catch (e) {
      setMessage(e.message);
    } finally {
      a.pending.delete(id);
      for (const x of tr.querySelectorAll('button')) x.disabled = false;
    }
    refresh('active');
  }

  function setFilter(text) {
    const a = state.active;
    if (text === a.filter) return;
    a.filter = text;
    a.offset = 0;
    a.gen++;
    refresh('active');
  }

  function page(delta) {
    const a = state.active;
    const next = Math.max(0, a.offset + delta * PAGE);
    if (next === a.offset || (delta > 0 && next >= a.total)) return;
    a.offset = next;
    a.gen++;
    refresh('active');
  }

  // ---- runs --------------------------------------------------------------

  async function loadRuns() {
    // The API lists runs oldest first; show the newest first.
    const runs = list(await api('GET', '/api/v1/runs'))
      .map((r, i) => ({ r: obj(r), i, t: timeMs(obj(r).started) }))
      .sort((x, y) => (y.t || 0) - (x.t || 0) || y.i - x.i);
    const rows = runs.slice(0, MAX_RUNS).map(({ r }) => {
      const st = str(r.status);
      const tr = el('tr');
      if (st !== 'ok' && st !== 'aborted') tr.className = 'failed';
      tr.dataset.status = st;
      const note = [str(r.note), str(r.stderr)].filter(Boolean).join(' \u2014 ');
      const noteCell = td(note.length > 400 ? note.slice(0, 400) + '\u2026' : note, 'note');
      if (note.length > 400) noteCell.title = note;
      tr.append(timeTd(r.started), td(r.command, 'cmd'), td(r.program, 'cmd'), td(r.verb),
        td(strs(r.keys).join(', '), 'keys'), td(st, 'run-status'), td(r.exit_code),
        td(fmtDuration(r.duration_ns)), noteCell);
      return tr;
    });
    $('runs-total').textContent = runs.length > MAX_RUNS
      ? '(newest ' + MAX_RUNS + ' of ' + runs.length + ')' : '(' + runs.length + ')';
    fill($('runs-body'), rows, $('runs-empty'));
  }

  // ---- allowlist ---------------------------------------------------------

  async function loadAllowlist() {
    const entries = list(await api('GET', '/api/v1/allowlist'));
    const rows = entries.map((raw) => {
      const e = obj(raw);
      const entry = str(e.entry);
      const tr = el('tr');
      tr.dataset.entry = entry;
      const actions = td('', 'actions');
      if (str(e.source) === 'api') actions.append(button('Remove', 'remove', 'Remove this entry'));
      tr.append(td(entry, 'keys'), td(e.source), td(e.comment), td(e.added_by), timeTd(e.added), actions);
      return tr;
    });
    fill($('allow-body'), rows, $('allow-empty'));
  }

  async function onAllowAdd(ev) {
    ev.preventDefault();
    const entry = $('allow-entry').value.trim();
    const comment = $('allow-comment').value.trim();
    if (!entry) return;
    const btn = $('allow-submit');
    btn.disabled = true;
    showError($('allow-error'), '');
    try {
      const lifted = await api('POST', '/api/v1/allowlist', { entry, comment });
      $('allow-entry').value = '';
      $('allow-comment').value = '';
      const n = list(lifted).length;
      if (n) setMessage('Added ' + entry + '; lifted ' + n + ' active response' + (n === 1 ? '' : 's') + '.');
    } catch (e) {
      showError($('allow-error'), e.message);
    } finally {
      btn.disabled = false;
    }
    refresh('allowlist');
  }

  async function onAllowClick(ev) {
    const b = ev.target.closest('button.remove');
    const tr = b && b.closest('tr');
    if (!tr || b.disabled) return;
    b.disabled = true;
    showError($('allow-error'), '');
    try {
      await api('DELETE', '/api/v1/allowlist?entry=' + encodeURIComponent(tr.dataset.entry));
      tr.remove();
    } catch (e) {
      showError($('allow-error'), e.message);
      b.disabled = false;
    }
    refresh('allowlist');
  }

  // ---- run a response ----------------------------------------------------

  async function onRun(ev) {
    ev.preventDefault();
    const errNode = $('run-error');
    showError(errNode, '');
    $('run-result').hidden = true;
    const agents = $('run-agents').value.trim();
    const body = { command: $('run-command').value.trim(), srcip: $('run-srcip').value.trim() };
    if (agents.toLowerCase() === 'all') {
      body.all = true;
    } else {
      body.agents = agents.split(/[\s,]+/).filter(Boolean);
      if (!body.agents.length) {
        showError(errNode, 'Name at least one agent, or "all".');
        return;
      }
    }
    const t = $('run-timeout').value.trim();
    if (t !== '') {
      const n = Number(t);
      if (!Number.isInteger(n) || n < 0) {
        showError(errNode, 'The timeout is a whole number of seconds.');
        return;
      }
      body.timeout = n;
    }
    body.force = $('run-force').checked;
    const btn = $('run-submit');
    btn.disabled = true;
    try {
      const rep = obj(await api('POST', '/api/v1/responses/run', body));
      $('run-result-command').textContent = str(rep.command);
      const timeout = count(rep.timeout, 0);
      $('run-result-timeout').textContent = timeout ? '(timeout ' + timeout + ' s)' : '(no timeout)';
      const delivery = obj(rep.delivery);
      const rows = Object.keys(delivery).sort().map((agent) => {
        const d = str(delivery[agent]);
        const tr = el('tr');
        tr.dataset.agent = agent;
        tr.append(td(agent, 'id'), td(d, d === 'sent' || d.startsWith('queued') ? 'delivered' : 'undelivered'));
        return tr;
      });
      fill($('run-result-body'), rows);
      $('run-result').hidden = false;
    } catch (e) {
      showError(errNode, e.message);
    } finally {
      btn.disabled = false;
    }
  }

  // ---- start -------------------------------------------------------------

  function start() {
    $('login-form').addEventListener('submit', onLogin);
    $('logout').addEventListener('click', onLogout);
    $('tabs').addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-tab]');
      if (b) selectTab(b.dataset.tab);
    });
    window.addEventListener('hashchange', () => {
      if (state.token && location.hash.slice(1) !== state.tab) selectTab(location.hash.slice(1));
    });
    $('active-body').addEventListener('click', onActiveClick);
    let filterTimer = 0;
    $('active-filter').addEventListener('input', () => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => setFilter($('active-filter').value), 300);
    });
    $('active-filter-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      clearTimeout(filterTimer);
      setFilter($('active-filter').value);
    });
    $('active-prev').addEventListener('click', () => page(-1));
    $('active-next').addEventListener('click', () => page(1));
    $('allow-form').addEventListener('submit', onAllowAdd);
    $('allow-body').addEventListener('click', onAllowClick);
    $('run-form').addEventListener('submit', onRun);
    $('message').addEventListener('click', () => setMessage(''));
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && state.token) refresh();
    });
    if (state.token) showApp();
    else showLogin('');
  }

  start();
})();
