// The roster: who is on shift at a chosen time (in a chosen time zone), and forms to add a
// weekly shift or a dated override. Reloads on roster events.
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

  // Who follows the roster: one switch each, asked about when it ends a shift now.
  function people(rows) {
    const tbody = document.querySelector("#people tbody");
    const out = document.getElementById("people-result");
    tbody.innerHTML = "";
    rows.forEach(function (p) {
      const tr = document.createElement("tr");
      tr.dataset.staff = p.id;
      tr.appendChild(H.el("td", "", T("roster.named", {name: p.name, id: p.id})));
      tr.appendChild(H.el("td", "", T("common.role_" + p.role)));
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
      tbody.appendChild(tr);
    });
  }

  async function load() {
    const tz = zone();
    if (!tz) { whenError.textContent = T("roster.unknown_tz"); return; }
    whenError.textContent = "";
    const r = await H.get("/api/v1/roster" + (viewing ? "?at=" + encodeURIComponent(viewing) : ""));
    if (!r.ok) { whenError.textContent = H.failure(r); return; }
    document.getElementById("on-at").textContent = viewing ? show(r.data.at, tz) : T("roster.now_word");
    const tbody = document.querySelector("#on-shift tbody");
    tbody.innerHTML = "";
    r.data.on_shift.forEach(function (p) {
      const tr = document.createElement("tr");
      tr.dataset.staff = p.id;
      [T("roster.named", {name: p.name, id: p.id}), T("common.role_" + p.role),
       p.languages.map(function (l) { return H.code("lang", l); }).join(", "),
       p.from ? show(p.from, tz) : T("floor.on_open_ended"),
       p.until ? show(p.until, tz) : ""].forEach(function (t) {
        tr.appendChild(H.el("td", "", t));
      });
      tbody.appendChild(tr);
    });
    document.getElementById("next-edge").textContent = r.data.next_edge
      ? T("roster.next_edge", {at: show(r.data.next_edge, tz)}) : T("roster.no_edge");
  }
  // Every weekly shift and current override, each removable (the list is the roster itself).
  async function loadEntries() {
    const tz = zone() || "UTC";
    const err = document.getElementById("entries-error");
    const r = await H.get("/api/v1/roster/entries");
    if (!r.ok) { err.textContent = H.failure(r); return; }
    err.textContent = "";
    function fill(tableId, rows, cells, kind) {
      const tbody = document.querySelector("#" + tableId + " tbody");
      tbody.innerHTML = "";
      rows.forEach(function (e) {
        const tr = document.createElement("tr");
        tr.dataset.entry = e.id;
        cells(e).forEach(function (t) { tr.appendChild(H.el("td", "", t)); });
        const td = H.el("td", "", null);
        td.appendChild(H.button(T("roster.remove"), async function () {
          const d = await remove(kind, e.id);
          if (!d.ok && d.status !== 404) { err.textContent = why(d); return; }
          refresh();
        }));
        tr.appendChild(td);
        tbody.appendChild(tr);
      });
    }
    fill("shift-entries", r.data.shifts, function (e) {
      return [T("roster.named", {name: e.name, id: e.counselor_id}), H.code("day", e.day),
              e.start, e.end, e.tz];
    }, "shifts");
    fill("override-entries", r.data.overrides, function (e) {
      return [T("roster.named", {name: e.name, id: e.counselor_id}), show(e.start, tz),
              show(e.end, tz), e.on_shift ? T("roster.on") : T("roster.off"),
              H.code("override", e.reason)];
    }, "overrides");
    people(r.data.people);
  }
  const refresh = H.coalesce(async function () {
    await load(); await loadEntries(); window.Cover.load();
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

  function submitter(formId, build, send) {
    const form = document.getElementById(formId);
    const out = form.querySelector(".result");
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      out.textContent = "";
      const tz = zone();
      if (!tz) { out.textContent = T("roster.choose_tz"); out.className = "result error"; return; }
      const body = build(new FormData(form), tz);
      if (typeof body === "string") { out.textContent = body; out.className = "result error"; return; }
      const r = await confirming(function (sure) {
        return H.post(send, Object.assign({}, body, {confirm: sure}));
      });
      out.className = "result " + (r.ok ? "ok" : "error");
      out.textContent = r.ok ? T("roster.saved") : why(r);
      if (r.ok) { remember(describe(formId, form, body, tz), formId + "s", ids(r.data)); refresh(); }
    });
  }

  function ids(data) { return data.shifts || [data.override]; }

  function who(form) {
    const s = form.querySelector("select[name=counselor_id]");
    return s.options[s.selectedIndex].textContent;
  }

  function describe(kind, form, body, tz) {
    if (kind === "shift") {
      return T("roster.shift_done", {who: who(form),
        days: body.days.map(function (d) { return H.code("day", d); }).join(", "),
        start: body.start, end: body.end, tz: tz});
    }
    return T("roster.override_done", {who: who(form),
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
