// The admin's staff page: edit, deactivate, reactivate, reset a password or second factor,
// list and end sessions, add. Everything goes through /api/v1/staff; a reset link is shown
// once, here, and never stored in the page after a reload.
"use strict";
(function () {
  const H = window.Hotline;
  const T = window.T;
  const status = document.getElementById("staff-status");

  function say(text) { status.textContent = text; status.hidden = !text; }

  function showLink(link) {
    document.getElementById("shown-link").textContent = link;
    document.getElementById("shown-once").hidden = false;
  }

  function list(value) {
    return value.split(",").map(function (x) { return x.trim(); }).filter(Boolean);
  }

  function fields(root) {
    const get = function (n) { return root.querySelector('[name="' + n + '"]').value; };
    return {role: get("role"), languages: list(get("languages")), channels: list(get("channels")),
            specialisms: list(get("specialisms")), max_chats: parseInt(get("max_chats"), 10)};
  }

  async function sessions(row, id) {
    const ul = row.querySelector(".sessions");
    const r = await H.get("/api/v1/staff/" + id + "/sessions");
    if (!r.ok) { say(H.failure(r)); return; }
    ul.textContent = "";
    r.data.sessions.forEach(function (s) {
      const li = document.createElement("li");
      li.textContent = T("staff.session_line", {since: s.created_at.slice(0, 16), seen: s.last_seen_at.slice(0, 16)}) + " ";
      li.appendChild(H.button(T("staff.end_session"), async function () {
        const done = await H.send("DELETE", "/api/v1/staff/" + id + "/sessions/" + s.ref);
        say(done.ok ? T("staff.session_ended") : H.failure(done));
        sessions(row, id);
      }));
      ul.appendChild(li);
    });
    if (!r.data.sessions.length) ul.textContent = T("staff.no_sessions");
    ul.hidden = false;
  }

  document.getElementById("staff-table").addEventListener("click", async function (ev) {
    const btn = ev.target.closest("button[data-act]");
    if (!btn) return;
    const row = btn.closest("tr");
    const id = row.dataset.member;
    const act = btn.dataset.act;
    if (btn.dataset.confirm && !window.confirm(btn.dataset.confirm)) return;
    if (act === "sessions") { sessions(row, id); return; }
    const r = act === "save" ? await H.post("/api/v1/staff/" + id, fields(row))
      : await H.post("/api/v1/staff/" + id + "/" + act, {});
    if (!r.ok) { say(H.failure(r)); return; }
    if (r.data.reset_link) { showLink(r.data.reset_link); say(T("staff.done_" + act, {name: row.dataset.name})); return; }
    say(T("staff.done_" + act, {name: row.dataset.name}));
    if (act !== "save") window.setTimeout(function () { window.location.reload(); }, 1200);
  });

  // The holiday calendar.
  const holidays = document.getElementById("holidays");
  async function loadHolidays() {
    const r = await H.get("/api/v1/holidays");
    if (!r.ok) return;
    holidays.textContent = "";
    r.data.holidays.forEach(function (h) {
      const li = document.createElement("li");
      li.textContent = (h.kind === "closed" ? T("staff.holiday_line_closed", {day: h.day, label: h.label})
        : T("staff.holiday_line_reduced", {day: h.day, opens: h.opens, closes: h.closes, label: h.label})) + " ";
      li.appendChild(H.button(T("staff.holiday_remove"), async function () {
        const done = await H.send("DELETE", "/api/v1/holidays/" + h.day);
        if (!done.ok) say(H.failure(done));
        loadHolidays();
      }));
      holidays.appendChild(li);
    });
    // A list holds list items only (axe "list"): the "none" line is one too.
    if (!r.data.holidays.length) holidays.appendChild(H.el("li", "muted", T("staff.holidays_none")));
  }
  document.getElementById("add-holiday").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const f = ev.target;
    const get = function (n) { return f.querySelector('[name="' + n + '"]').value; };
    const body = {day: get("day"), kind: get("kind"), label: get("label")};
    if (body.kind === "reduced") { body.opens = get("opens"); body.closes = get("closes"); }
    const r = await H.post("/api/v1/holidays", body);
    say(r.ok ? T("staff.holiday_saved", {day: body.day}) : H.failure(r));
    if (r.ok) { f.reset(); loadHolidays(); }
  });
  loadHolidays();

  document.getElementById("add-staff").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const form = ev.target;
    const body = fields(form);
    body.name = form.querySelector('[name="name"]').value.trim();
    if (!body.specialisms.length) body.specialisms = [];
    const r = await H.post("/api/v1/staff", body);
    if (!r.ok) { say(H.failure(r)); return; }
    showLink(r.data.reset_link);
    say(T("staff.done_add", {name: body.name}));
    form.reset();
  });
})();
