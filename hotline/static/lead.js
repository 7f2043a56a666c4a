// The lead's live view: staff, waiting cases (reasons, live wait clocks) and active cases
// (duration, how long the victim has waited for a reply), reassign (only to people who may take
// the case, never preselected) / return to queue / urgency for one case at a time, alerts
// grouped by case, coverage banners. Bounded (issue 18): the floor's counts and the first page
// of each list ("More" appends the next); events update what is shown at once (a new case is
// counted, a case taken or closed leaves the waiting list, an urgency recolours its row), the
// floor is read again at most every 3 s while events keep coming, and a victim's message
// changes nothing here.
"use strict";
(function () {
  const H = window.Hotline;
  const live = document.getElementById("live");
  const manage = document.getElementById("manage");
  const result = document.getElementById("manage-result");
  const reassignTo = document.getElementById("reassign-to");
  // Staff names by id, as the floor's answers give them (its agents, and `names` for whoever
  // holds or is offered a case) and lost-console events: no directory of every account.
  const names = {};
  function learn(found) {
    Object.keys(found || {}).forEach(function (id) { names[id] = found[id]; });
  }
  let agents = [];
  let selected = null;  // {id, counselor, urgency, channel, language} of the managed case

  function who(id) {
    if (id === null || id === undefined) return "—";
    return (names[id] || "#" + id) + (names[id] ? " (#" + id + ")" : "");
  }

  function row(tbody, cells, dataset) {
    const tr = document.createElement("tr");
    Object.keys(dataset || {}).forEach(function (k) { tr.dataset[k] = dataset[k]; });
    cells.forEach(function (c) {
      const td = document.createElement("td");
      if (c instanceof Node) td.appendChild(c);
      else if (Array.isArray(c)) {
        td.className = c[1];
        if (c[0] instanceof Node) td.appendChild(c[0]); else td.textContent = c[0];
      }
      else td.textContent = c;
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
    return tr;
  }

  function caseLink(id) {
    const a = H.el("a", "", id.slice(0, 8));
    a.href = "/console/cases/" + id;
    return a;
  }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString(H.lang, {hour: "2-digit", minute: "2-digit"});
  }

  function yesNo(v) { return v ? T("lead.yes") : T("lead.no"); }

  function manageButton(c) {
    return H.button(T("lead.manage"), function () { openManage(c); });
  }

  // Minutes since a server time, kept live by common.js's clock.
  function minutes(ms, key) {
    const e = H.clockEl(ms);
    e.dataset.clock = "minutes";
    e.dataset.clockKey = key;
    e.textContent = T(key, {n: Math.max(0, Math.floor((H.serverNow() - ms) / 60000))});
    return e;
  }

  function showAgents() {
    const tbody = document.querySelector("#agents tbody");
    tbody.innerHTML = "";
    agents.forEach(function (a) {
      if (a.name) names[a.id] = a.name;
      const shift = !a.on_shift ? T("lead.no") : a.shift_end_ms
        ? T("lead.until", {time: clock(a.shift_end_ms)}) : T("lead.no_roster");
      row(tbody, [who(a.id), [H.code("presence", a.status), "status-" + a.status], shift,
                  [yesNo(a.present), a.present ? "" : "warn"],
                  [a.load + "/" + a.max_chats, "load" + (a.load >= a.max_chats ? " full" : "")],
                  a.on_call ? T("lead.yes") : "",
                  a.languages.map(function (l) { return H.code("lang", l); }).join(", ")],
          {agent: a.id});
    });
    picker();
  }

  // The reassign picker: only people who may take the selected case now (on shift, present,
  // available, its language and channel; capacity the lead may override), never its holder,
  // and nobody preselected; the server picks them from everyone (GET .../takers), least
  // loaded first, not from the floor's first page of staff. It keeps the lead's choice across
  // reloads.
  let picking = 0;
  let drawnFor = null;
  function emptyPicker() {
    reassignTo.innerHTML = "";
    const none = H.el("option", "", T("lead.reassign_choose"));
    none.value = "";
    reassignTo.appendChild(none);
  }
  async function picker() {
    const asked = ++picking;
    const c = selected;
    // Another case: nobody from the last one's list stays pickable while this one's loads.
    if (!c || drawnFor !== c.id) emptyPicker();
    drawnFor = c ? c.id : null;
    if (!c) return;
    const r = await H.get("/api/v1/cases/" + c.id + "/takers?limit=50");
    if (asked !== picking) return;  // a later call draws the picker
    const keep = reassignTo.value;  // this case's choice, if the lead made one
    emptyPicker();
    const fit = r && r.ok ? r.data.takers : [];
    fit.forEach(function (a) {
      names[a.id] = a.name;
      const o = H.el("option", "", T("lead.reassign_option", {
        who: who(a.id), status: H.code("presence", a.status), load: a.load, max: a.max_chats}));
      o.value = a.id;
      reassignTo.appendChild(o);
    });
    document.getElementById("reassign-nobody").hidden = fit.length > 0;
    if (keep && fit.some(function (a) { return String(a.id) === keep; })) reassignTo.value = keep;
    else reassignTo.value = "";
  }

  function waitingRow(tbody, w, now) {
    const c = {id: w.id, counselor: null, urgency: w.urgency, channel: w.channel,
               language: w.language};
    row(tbody, [caseLink(w.id), [H.code("urgency", w.urgency), "urgency"],
                [H.reasons(w.reasons), "reasons"],
                H.code("lang", w.language), H.code("channel", w.channel),
                H.clockEl(now - w.waited_seconds * 1000),
                w.offered_to === null ? "" : T("lead.offered_to", {who: who(w.offered_to)}),
                manageButton(c)], {case: w.id}).className = "urgency-" + w.urgency;
  }

  function activeRow(tbody, a) {
    const c = {id: a.id, counselor: a.counselor, urgency: a.urgency, channel: a.channel,
               language: a.language};
    const waiting = a.unanswered_since_ms
      ? [minutes(a.unanswered_since_ms, "lead.victim_waiting_for"), "warn"]
      : T("lead.victim_answered");
    row(tbody, [caseLink(a.id), who(a.counselor), [H.code("urgency", a.urgency), "urgency"],
                H.code("lang", a.language), H.code("channel", a.channel),
                a.assigned_ms ? minutes(a.assigned_ms, "case.duration_minutes") : "",
                waiting, manageButton(c)], {case: a.id}).className = "urgency-" + a.urgency;
  }

  // The floor's counts: per urgency, and per language and channel with the longest wait.
  let summary = null;
  function showSummary() {
    document.getElementById("unassigned-count").textContent = summary.unassigned;
    document.getElementById("active-count").textContent = summary.active;
    document.getElementById("present-count").textContent = summary.present;
    ["critical", "high", "normal"].forEach(function (u) {
      document.getElementById("waiting-" + u).textContent = summary.by_urgency[u] || 0;
    });
    const tbody = document.querySelector("#groups tbody");
    tbody.innerHTML = "";
    summary.groups.forEach(function (g) {
      row(tbody, [H.code("lang", g.language), H.code("channel", g.channel), g.waiting,
                  g.by_urgency.critical, g.by_urgency.high, g.by_urgency.normal,
                  H.minSec(g.oldest_waited_seconds)]);
    });
  }

  // Each list shows its first page; "More" appends the next one (GET /api/v1/floor/{list}).
  const lists = {
    agents: {draw: function (x) { agents.push(x); showAgents(); }},
    unassigned: {draw: function (x) {
      waitingRow(document.querySelector("#unassigned tbody"), x, H.serverNow());
    }},
    active: {draw: function (x) { activeRow(document.querySelector("#active tbody"), x); }},
  };
  function setNext(part, next) {
    lists[part].next = next;
    document.getElementById(part + "-more").hidden = next === null;
  }
  Object.keys(lists).forEach(function (part) {
    document.getElementById(part + "-more").addEventListener("click", async function () {
      const next = lists[part].next;
      if (next === null || next === undefined) return;
      const r = await H.get("/api/v1/floor/" + part + "?after=" + encodeURIComponent(next));
      if (!r.ok) { live.textContent = H.failure(r); return; }
      learn(r.data.names);
      r.data.items.forEach(lists[part].draw);
      lists[part].shown = (lists[part].shown || 0) + r.data.items.length;
      setNext(part, r.data.next);
    });
  });

  async function load() {
    // As many rows as the lead opened with "More" (up to 200), so a reload keeps them.
    const limit = Math.min(200, Math.max(50, ...Object.keys(lists).map(function (p) {
      return 50 + (lists[p].shown || 0);
    })));
    const r = await H.get("/api/v1/floor?limit=" + limit);
    if (!r.ok) { live.textContent = H.failure(r); return; }
    H.learnSkew(r);
    const now = H.serverNow();
    learn(r.data.names);
    agents = r.data.agents;
    const un = document.querySelector("#unassigned tbody");
    un.innerHTML = "";
    r.data.unassigned.forEach(function (w) { waitingRow(un, w, now); });
    const act = document.querySelector("#active tbody");
    act.innerHTML = "";
    r.data.active.forEach(function (a) { activeRow(act, a); });
    setNext("agents", r.data.agents_next);
    setNext("unassigned", r.data.unassigned_next);
    setNext("active", r.data.active_next);
    summary = r.data.summary;
    showSummary();
    if (selected) {
      const still = r.data.unassigned.concat(r.data.active).filter(function (x) {
        return x.id === selected.id;
      })[0];
      // A case past the first page stays open; one taken or closed is left by its event.
      if (still) describe({id: still.id, counselor: still.counselor || null,
                           urgency: still.urgency, channel: still.channel,
                           language: still.language});
    }
    showAgents();
    document.getElementById("agent-count").textContent = summary.staff;
  }
  // Read again at most every 3 s while events keep coming.
  const refresh = H.throttle(load, 3000);

  // What an event changes on the page at once, before the next read of the floor.
  function applyEvent(t, e) {
    if (!summary) return;
    const rows = document.querySelectorAll('tr[data-case="' + e.conversation + '"]');
    if (t === "queued" && e.urgency) {
      summary.unassigned += 1;
      summary.by_urgency[e.urgency] = (summary.by_urgency[e.urgency] || 0) + 1;
      showSummary();
    } else if (t === "assigned" || t === "closed") {
      document.querySelectorAll('#unassigned tr[data-case="' + e.conversation + '"]')
        .forEach(function (tr) { tr.remove(); });
      if (t === "closed") rows.forEach(function (tr) { tr.remove(); });
    } else if (t === "urgency" && e.urgency) {
      rows.forEach(function (tr) {
        tr.className = "urgency-" + e.urgency;
        const cell = tr.querySelector("td.urgency");
        if (cell) cell.textContent = H.code("urgency", e.urgency);
      });
    }
  }

  function describe(c) {
    selected = c;
    document.getElementById("manage-title").textContent = T("lead.manage_title", {
      case: c.id.slice(0, 8),
      state: c.counselor === null ? T("lead.state_waiting") : T("lead.state_held", {who: who(c.counselor)}),
      urgency: H.code("urgency", c.urgency)});
    document.querySelector("#requeue button").disabled = c.counselor === null;
    // The ban form (bans.js) bans this case's sender; an address is known for web chats only.
    manage.dataset.case = c.id;
    const byAddress = document.querySelector("#ban-case-scope option[data-webchat]");
    byAddress.disabled = c.channel !== "webchat";
    if (byAddress.disabled && byAddress.selected) byAddress.parentNode.value = "sender";
  }

  function openManage(c) {
    describe(c);
    picker();
    result.textContent = "";
    document.getElementById("urgency-level").value = c.urgency;
    manage.hidden = false;
    manage.scrollIntoView({block: "nearest"});
  }

  document.getElementById("manage-close").addEventListener("click", function () {
    manage.hidden = true;
    selected = null;
  });

  function action(formId, path, body) {
    document.getElementById(formId).addEventListener("submit", async function (ev) {
      ev.preventDefault();
      if (!selected) return;
      const f = new FormData(ev.target);
      const r = await H.post("/api/v1/cases/" + selected.id + "/" + path, body(f));
      result.textContent = !r.ok ? H.failure(r)
        : r.data.changed === false ? T("lead.urgency_same") : T("lead.done");
      result.className = r.ok ? "ok" : "error";
      refresh();
    });
  }

  action("reassign", "reassign", function (f) {
    return {counselor_id: Number(f.get("counselor_id")), reason: f.get("reason"),
            override_capacity: f.get("override_capacity") === "on"};
  });
  action("requeue", "requeue", function (f) { return {reason: f.get("reason")}; });
  action("urgency", "urgency", function (f) {
    return {urgency: f.get("urgency"), reason: f.get("reason")};
  });

  // Coverage and lost consoles: a banner each, until dismissed.
  function banner(text) {
    const ul = document.getElementById("banners");
    const li = H.el("li", "banner", null);
    li.appendChild(H.el("span", "", text));
    li.appendChild(H.button(T("floor.dismiss"), function () { li.remove(); }));
    ul.insertBefore(li, ul.firstChild);
    while (ul.children.length > 5) ul.lastChild.remove();
  }

  function onCoverage(e) {
    const what = H.code("lang", e.language) + " / " + H.code("channel", e.channel);
    banner(e.state === "gap" ? T("lead.gap", {what: what}) : T("lead.full", {what: what}));
  }

  function onAttention(e) {
    const n = (e.conversations || []).length;
    if (e.name) names[e.counselor] = e.name;
    banner(e.reason === "presence_lost"
      ? T("lead.presence_lost", {who: who(e.counselor), n: n})
      : T("lead.attention", {why: H.code("alert", e.reason)}));
  }

  const refreshAlerts = H.alertsPanel(document.getElementById("alerts"), true);
  // Not "message": a victim writing changes nothing on this page.
  const types = ["queued", "assigned", "closed", "reset", "offered", "offer.expired",
                 "offer.declined", "presence", "urgency", "alert", "alert.acked", "coverage",
                 "handover", "handover.planned", "lead.attention", "roster", "victim.left",
                 "bans"];
  const handlers = {};
  types.forEach(function (t) {
    handlers[t] = function (e) {
      if (t === "bans") { window.HotlineBans.refresh(); return; }
      applyEvent(t, e);
      refresh();
      if (["queued", "assigned", "closed", "roster", "reset"].indexOf(t) >= 0) {
        window.Cover.load();
      }
      if (t === "alert" || t === "alert.acked" || t === "reset") refreshAlerts();
      if (t === "coverage") onCoverage(e);
      if (t === "lead.attention") onAttention(e);
    };
  });
  H.events(handlers, live, function () { refresh(); refreshAlerts(); });
  setInterval(function () { H.post("/api/v1/presence/heartbeat"); }, 15000);
  refresh();
  refreshAlerts();
})();
