// The roster: who is on shift at a chosen time (in a chosen time zone), who follows the roster,
// the weekly shifts and overrides, and forms to add a shift or an override for a person found
// by name (picker.js). Each list is a page at a time of the people matching the filter box,
// with "Show more"; it reloads on roster events.
"use strict";
(function () {
  const H = window.Hotline;
  const T = window.T;
  const root = document.getElementById("roster");
  const tzInput = document.getElementById("tz");
  const atInput = document.getElementById("at");
  const whenError = document.getElementById("when-error");
  let viewing = null;  // the ISO time looked at, or null for "now"

  function pad(n) { return String(n).padStart(2, "0"); }

  function validZone(tz) {
    try { new Intl.DateTimeFormat("en", {timeZone: tz}); return true; } catch (e) { return false; }
  }

  function zone() {
    const tz = tzInput.value.trim();
    return validZone(tz) ? tz : null;
  }

  // The wall-clock fields of an instant in a zone.
  function fields(tz, ms) {
    const v = {};
    new Intl.DateTimeFormat("en-US", {timeZone: tz, hourCycle: "h23", year: "numeric",
      month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"})
      .formatToParts(new Date(ms)).forEach(function (p) { v[p.type] = p.value; });
    return v;
  }

  function offsetMinutes(tz, ms) {
    const v = fields(tz, ms);
    const asUtc = Date.UTC(+v.year, +v.month - 1, +v.day, +v.hour % 24, +v.minute, +v.second);
    return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
  }

  // "2025-03-01T09:30" read as a wall-clock time in `tz` -> ISO 8601 with its offset.
  function zonedIso(local, tz) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
    if (!m) return null;
    const naive = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
    let off = offsetMinutes(tz, naive);
    off = offsetMinutes(tz, naive - off * 60000);
    const a = Math.abs(off);
    return m[1] + "-" + m[2] + "-" + m[3] + "T" + m[4] + ":" + m[5] + ":00" +
      (off < 0 ? "-" : "+") + pad(Math.floor(a / 60)) + ":" + pad(a % 60);
  }

  function localNow(tz) {
    const v = fields(tz, Date.now());
    return v.year + "-" + v.month + "-" + v.day + "T" + pad(+v.hour % 24) + ":" + v.minute;
  }

  function show(iso, tz) {
    return new Date(iso).toLocaleString(H.lang, {timeZone: tz, weekday: "short", month: "short",
      day: "numeric", hour: "2-digit", minute: "2-digit"});
  }

  // An edit that would end someone's shift now is asked about first (409 would_end_shift);
  // confirmed, it is sent again with confirm. Other refusals in the page's words.
  async function confirming(send) {
    let r = await send(false);
    if (r.status === 409 && r.data.code === "would_end_shift") {
      const w = r.data.would_end;
      if (!window.confirm(T("floor.would_end", {name: w.name, cases: w.held_cases}))) {
        return {ok: false, status: 0, cancelled: true, data: {}};
      }
      r = await send(true);
    }
    return r;
  }

  function why(r) {
    if (r.cancelled) return T("floor.cancelled");
    if (r.data && r.data.code === "not_rostered") return T("floor.not_rostered");
    if (r.data && r.data.field === "reason") return T("floor.reason_mismatch");
    return H.failure(r);
  }

  function remove(kind, id) {
    return confirming(function (sure) {
      return H.send("DELETE", "/api/v1/roster/" + kind + "/" + id + (sure ? "?confirm=true" : ""));
    });
  }

  // The lists: 50 rows first, "Show more" appends the next 50 (GET the list's own route with
  // the cursor); a reload keeps as many rows as were shown, up to 200.
  const PAGE = 50;
  const MOST = 200;
  let q = "";  // the filter box's text
  const entriesError = document.getElementById("entries-error");

  function query(params) {
    const parts = Object.keys(params).filter(function (k) {
      return params[k] !== null && params[k] !== "";
    }).map(function (k) { return k + "=" + encodeURIComponent(params[k]); });
    return parts.length ? "?" + parts.join("&") : "";
  }

  function cells(tr, texts) {
    texts.forEach(function (t) { tr.appendChild(H.el("td", "", t)); });
    return tr;
  }

  function onShiftRow(p) {
    const tz = zone() || "UTC";
    const tr = document.createElement("tr");
    tr.dataset.staff = p.id;
    return cells(tr, [T("roster.named", {name: p.name, id: p.id}), T("common.role_" + p.role),
      p.languages.map(function (l) { return H.code("lang", l); }).join(", "),
      p.from ? show(p.from, tz) : T("floor.on_open_ended"), p.until ? show(p.until, tz) : ""]);
  }

  // Who follows the roster: one switch each, asked about when it ends a shift now.
  function personRow(p) {
    const out = document.getElementById("people-result");
    const tr = document.createElement("tr");
    tr.dataset.staff = p.id;
    cells(tr, [T("roster.named", {name: p.name, id: p.id}), T("common.role_" + p.role)]);
    const td = H.el("td", "", null);
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = p.rostered;
    box.setAttribute("aria-label", T("floor.rostered_follows") + ": " + p.name);
    box.addEventListener("change", async function () {
      const want = box.checked;
      const r = await confirming(function (sure) {
        return H.send("PUT", "/api/v1/roster/people/" + p.id, {rostered: want, confirm: sure});
      });
      out.textContent = r.ok ? T("floor.rostered_saved") : why(r);
      if (!r.ok) box.checked = !want;
      refresh();
    });
    td.appendChild(box);
    tr.appendChild(td);
    return tr;
  }

  // A weekly shift or an override, removable (the lists are the roster itself).
  function entryRow(kind, e, texts) {
    const tr = cells(document.createElement("tr"), texts);
    tr.dataset.entry = e.id;
    const td = H.el("td", "", null);
    td.appendChild(H.button(T("roster.remove"), async function () {
      const d = await remove(kind, e.id);
      if (!d.ok && d.status !== 404) { entriesError.textContent = why(d); return; }
      refresh();
    }));
    tr.appendChild(td);
    return tr;
  }

  function shiftRow(e) {
    return entryRow("shifts", e, [T("roster.named", {name: e.name, id: e.counselor_id}),
      H.code("day", e.day), e.start, e.end, e.tz]);
  }

  function overrideRow(e) {
    const tz = zone() || "UTC";
    return entryRow("overrides", e, [T("roster.named", {name: e.name, id: e.counselor_id}),
      show(e.start, tz), show(e.end, tz), e.on_shift ? T("roster.on") : T("roster.off"),
      H.code("override", e.reason)]);
  }

  const lists = {
    "on-shift": {key: "on_shift", path: "/api/v1/roster", row: onShiftRow, people: true,
                 error: whenError},
    "people": {key: "people", path: "/api/v1/roster/people", row: personRow, people: true,
               error: entriesError},
    "shift-entries": {key: "shifts", path: "/api/v1/roster/shifts", row: shiftRow,
                      error: entriesError},
    "override-entries": {key: "overrides", path: "/api/v1/roster/overrides", row: overrideRow,
                         error: entriesError},
  };

  function counted(id) {
    const l = lists[id];
    const words = {shown: l.shown, total: l.total};
    document.getElementById(id + "-count").textContent =
      l.total === 0 ? (q ? T("roster.no_match", {q: q}) : "")
      : l.people ? T("roster.showing_people", words) : T("roster.showing_entries", words);
  }

  function fill(id, rows, total, next, append) {
    const l = lists[id];
    const tbody = document.querySelector("#" + id + " tbody");
    if (!append) { tbody.innerHTML = ""; l.shown = 0; }
    rows.forEach(function (x) { tbody.appendChild(l.row(x)); });
    l.shown += rows.length;
    l.total = total;
    l.next = next;
    document.getElementById(id + "-more").hidden = next === null;
    counted(id);
  }

  // How many rows a reload asks for: as many as these lists show now.
  function keep() {
    const shown = Array.prototype.map.call(arguments, function (id) { return lists[id].shown || 0; });
    return Math.min(MOST, Math.max(PAGE, ...shown));
  }

  Object.keys(lists).forEach(function (id) {
    document.getElementById(id + "-more").addEventListener("click", async function () {
      const l = lists[id];
      if (l.next === null || l.next === undefined) return;
      const r = await H.get(l.path + query({at: id === "on-shift" ? viewing : null, q: q,
                                            limit: PAGE, after: l.next}));
      if (!r.ok) { l.error.textContent = H.failure(r); return; }
      fill(id, r.data[l.key], r.data.total, r.data.next, true);
    });
  });

  async function load() {
    const tz = zone();
    if (!tz) { whenError.textContent = T("roster.unknown_tz"); return; }
    whenError.textContent = "";
    const r = await H.get("/api/v1/roster" + query({at: viewing, q: q, limit: keep("on-shift")}));
    if (!r.ok) { whenError.textContent = H.failure(r); return; }
    document.getElementById("on-at").textContent = viewing ? show(r.data.at, tz) : T("roster.now_word");
    fill("on-shift", r.data.on_shift, r.data.total, r.data.next, false);
    document.getElementById("next-edge").textContent = r.data.next_edge
      ? T("roster.next_edge", {at: show(r.data.next_edge, tz)}) : T("roster.no_edge");
  }

  async function loadEntries() {
    const r = await H.get("/api/v1/roster/entries" + query({
      q: q, limit: keep("people", "shift-entries", "override-entries")}));
    if (!r.ok) { entriesError.textContent = H.failure(r); return; }
    entriesError.textContent = "";
    fill("shift-entries", r.data.shifts, r.data.shifts_total, r.data.shifts_next, false);
    fill("override-entries", r.data.overrides, r.data.overrides_total, r.data.overrides_next,
         false);
    fill("people", r.data.people, r.data.people_total, r.data.people_next, false);
  }
  const refresh = H.coalesce(async function () {
    await load(); await loadEntries(); window.Cover.load();
  });

  // The filter box: every list shows the people matching it, from their first page.
  const filterBox = document.getElementById("filter-q");
  let filterTimer = null;
  function filter() {
    clearTimeout(filterTimer);
    if (filterBox.value.trim() === q) return;
    q = filterBox.value.trim();
    Object.keys(lists).forEach(function (id) { lists[id].shown = 0; });
    refresh();
  }
  filterBox.addEventListener("input", function () {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(filter, 250);
  });
  document.getElementById("filter").addEventListener("submit", function (ev) {
    ev.preventDefault();
    filter();
  });

  document.getElementById("when").addEventListener("submit", function (ev) {
    ev.preventDefault();
    const tz = zone();
    if (!tz) { whenError.textContent = T("roster.unknown_tz"); return; }
    viewing = zonedIso(atInput.value, tz);
    refresh();
  });

  document.getElementById("now").addEventListener("click", function () {
    viewing = null;
    const tz = zone();
    if (tz) atInput.value = localNow(tz);
    refresh();
  });

  tzInput.addEventListener("change", refresh);

  // A change made from this page, with an undo (DELETE) while the page is open.
  function remember(text, kind, ids) {
    const li = H.el("li", "", null);
    const err = H.el("span", "error", "");
    li.appendChild(H.el("span", "", text));
    li.appendChild(H.button(T("roster.undo"), async function () {
      for (const id of ids) {
        const r = await remove(kind, id);
        if (!r.ok && r.status !== 404) { err.textContent = why(r); return; }
      }
      li.remove();
    }));
    li.appendChild(err);
    document.getElementById("changes").appendChild(li);
  }

  const pickers = {shift: window.PersonPicker(document.querySelector("#shift .picker")),
                   override: window.PersonPicker(document.querySelector("#override .picker"))};

  function submitter(formId, build, send) {
    const form = document.getElementById(formId);
    const out = form.querySelector(".result");
    const picker = pickers[formId];
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      out.textContent = "";
      const tz = zone();
      if (!tz) { out.textContent = T("roster.choose_tz"); out.className = "result error"; return; }
      const body = picker.problem() || build(new FormData(form), tz);
      if (typeof body === "string") { out.textContent = body; out.className = "result error"; return; }
      const r = await confirming(function (sure) {
        return H.post(send, Object.assign({}, body, {confirm: sure}));
      });
      out.className = "result " + (r.ok ? "ok" : "error");
      out.textContent = r.ok ? T("roster.saved") : why(r);
      if (r.ok) { remember(describe(formId, picker, body, tz), formId + "s", ids(r.data)); refresh(); }
    });
  }

  function ids(data) { return data.shifts || [data.override]; }

  function describe(kind, picker, body, tz) {
    if (kind === "shift") {
      return T("roster.shift_done", {who: picker.label(),
        days: body.days.map(function (d) { return H.code("day", d); }).join(", "),
        start: body.start, end: body.end, tz: tz});
    }
    return T("roster.override_done", {who: picker.label(),
      state: body.on_shift ? T("roster.on") : T("roster.off"), start: show(body.start, tz),
      end: show(body.end, tz), reason: H.code("override", body.reason)});
  }

  submitter("shift", function (f, tz) {
    const days = f.getAll("days");
    if (!days.length) return T("roster.choose_day");
    return {counselor_id: Number(f.get("counselor_id")), days: days, start: f.get("start"),
            end: f.get("end"), tz: tz};
  }, "/api/v1/roster/shifts");

  submitter("override", function (f, tz) {
    const start = zonedIso(f.get("start"), tz);
    const end = zonedIso(f.get("end"), tz);
    if (!start || !end) return T("roster.both_times");
    return {counselor_id: Number(f.get("counselor_id")), start: start, end: end,
            on_shift: f.get("on_shift") === "true", reason: f.get("reason")};
  }, "/api/v1/roster/overrides");

  // Time zone suggestions: the browser's list, with the configured zone first.
  const zones = document.getElementById("zones");
  const all = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
  [root.dataset.defaultTz, "UTC"].concat(all).forEach(function (z) {
    const o = document.createElement("option");
    o.value = z;
    zones.appendChild(o);
  });

  atInput.value = localNow(zone() || "UTC");
  document.getElementById("override-start").value = atInput.value;
  H.events({roster: refresh, reset: refresh, queued: window.Cover.load,
            closed: window.Cover.load, assigned: window.Cover.load},
           document.getElementById("live"), refresh);
  refresh();
})();
