/**
 * The dashboard's only script: refreshes the `#live` region every `data-refresh-ms` (2 s) by asking
 * the server for the same URL with `x-dashboard-partial: 1` (server-rendered, escaped HTML), and
 * drives the tenant search box. Served from the dashboard itself (no CDN, no build step).
 */
export const DASHBOARD_JS = `(function () {
  'use strict';
  var live = document.getElementById('live');
  var status = document.getElementById('live-status');
  var interval = live ? Number(live.getAttribute('data-refresh-ms')) || 2000 : 2000;
  var busy = false;
  var again = false;
  var sequence = 0;
  function refresh() {
    if (!live) return;
    if (busy) { again = true; return; }
    busy = true;
    var mine = ++sequence;
    fetch(location.pathname + location.search, { headers: { 'x-dashboard-partial': '1' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.text();
      })
      .then(function (text) {
        if (mine !== sequence) return;
        live.innerHTML = text;
        if (status) status.textContent = 'live, updated ' + new Date().toLocaleTimeString();
      })
      .catch(function (error) {
        if (status) status.textContent = 'refresh failed (' + error.message + ')';
      })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }
  setInterval(function () { if (!document.hidden) refresh(); }, interval);
  var search = document.getElementById('tenant-search');
  if (search) {
    var timer;
    search.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var url = new URL(location.href);
        if (search.value) url.searchParams.set('q', search.value); else url.searchParams.delete('q');
        url.searchParams.delete('page');
        history.replaceState(null, '', url.toString());
        refresh();
      }, 200);
    });
  }
})();
`;

/** The dashboard's stylesheet. */
export const DASHBOARD_CSS = `:root { color-scheme: light; --ok: #1a7f37; --warn: #9a6700; --crit: #cf222e; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #f6f8fa; }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; background: #24292f; color: #fff; }
header a { color: #d0d7de; text-decoration: none; margin-right: 1rem; }
header a[aria-current="page"] { color: #fff; font-weight: 600; border-bottom: 2px solid #fff; }
.brand { font-size: 1.05rem; }
.who { margin-left: auto; color: #d0d7de; font-size: .85rem; }
.live-status { color: #8c959f; font-size: .8rem; min-width: 12rem; text-align: right; }
main { padding: 1rem 1.2rem 3rem; max-width: 1400px; }
h1 { font-size: 1.3rem; margin: .4rem 0 1rem; }
h2 { font-size: 1.05rem; margin: 1.6rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { padding: .35rem .6rem; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: #f0f3f6; font-weight: 600; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
#redis-health td { white-space: normal; }
td.reason { white-space: normal; text-align: left; max-width: 40rem; overflow-wrap: anywhere; color: #6e2a2a; }
th a { color: inherit; text-decoration: none; }
th a:hover { text-decoration: underline; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 1rem; font-size: .78rem; font-weight: 600; color: #fff; }
.OK, .PASS { background: var(--ok); } .WARN { background: var(--warn); } .CRITICAL, .FAIL { background: var(--crit); }
.paused { background: #6639ba; }
.note { color: var(--muted); font-size: .85rem; margin: .4rem 0; }
.notice { background: #dafbe1; border: 1px solid #aceebb; padding: .5rem .8rem; margin-bottom: 1rem; }
.error { background: #ffebe9; border: 1px solid #ffcecb; padding: .5rem .8rem; margin-bottom: 1rem; }
form.inline { display: inline; }
button { font: inherit; padding: .15rem .6rem; border: 1px solid var(--line); border-radius: 6px; background: #f6f8fa; cursor: pointer; }
button.danger { color: var(--crit); }
.controls { display: flex; flex-wrap: wrap; gap: 1rem; background: #fff; border: 1px solid var(--line); padding: .8rem; }
.controls fieldset { border: 1px solid var(--line); padding: .5rem .8rem; }
.controls input, .controls select { font: inherit; width: 7rem; }
.search { margin-bottom: .6rem; }
.search input { font: inherit; padding: .3rem .5rem; width: 20rem; }
.pager { margin: .6rem 0; display: flex; gap: 1rem; align-items: center; }
a { color: #0969da; }
`;
