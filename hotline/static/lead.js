// The lead's live view: the floor's counts, the first page of staff, waiting and active cases
// (more on request), reassign / return to queue / urgency for one case at a time, alerts,
// coverage banners. Events update what is shown at once (a case taken leaves the waiting
// list, a new one is counted, an urgency changes its row); the bounded floor is read again at
// most every 3 s while events keep coming, and a victim's message changes nothing here.
"use strict";
(function () {
  const H = window.Hotline;
  const live = document.getElementById("live");
  const manage = document.getElementById("manage");
  const result = document.getElementById("manage-result");
  const reassignTo = document.getElementById("reassign-to");
  const names = {};
  document.querySelectorAll("#directory option").forEach(function (o) {
    names[o.value] = o.label;
  });
  let agents = [];
  let selected = null;  // {id, counselor} of the case in the manage panel

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
      else if (Array.isArray(c)) { td.className = c[1]; td.textContent = c[0]; }
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
    return new Date(ms).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
  }

  function waited(s) { return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); }

  function manageButton(c) {
    return H.button("Manage", function () { openManage(c); });
  }

  function agentRow(tbody, a) {
    if (a.name) names[a.id] = a.name;
    const shift = !a.on_shift ? "no" : a.shift_end_ms ? "until " + clock(a.shift_end_ms)
      : "yes (no roster)";
    row(tbody, [who(a.id), ["" + a.status, "status-" + a.status], shift,
                [a.present ? "yes" : "no", a.present ? "" : "warn"],
                [a.load + "/" + a.max_chats, "load" + (a.load >= a.max_chats ? " full" : "")],
                a.on_call ? "yes" : "", a.languages.join(", ")], {agent: a.id});
  }

  function showAgents() {
    const tbody = document.querySelector("#agents tbody");
    tbody.innerHTML = "";
    agents.forEach(function (a) { agentRow(tbody, a); });
    // The reassign picker keeps the lead's choice across reloads.
    const keep = reassignTo.value;
    reassignTo.innerHTML = "";
    agents.forEach(function (a) {
      const o = H.el("option", "", who(a.id) + " · " + a.status + " · " + a.load + "/" +
                     a.max_chats + (a.on_shift ? "" : " · off shift"));
      o.value = a.id;
      reassignTo.appendChild(o);
    });
    if (keep) reassignTo.value = keep;
  }

  function waitingRow(tbody, w) {
    const c = {id: w.id, counselor: null, urgency: w.urgency, channel: w.channel};
    row(tbody, [caseLink(w.id), [w.urgency, "urgency"], w.language, w.channel,
                waited(w.waited_seconds),
                w.offered_to === null ? "" : "offered to " + who(w.offered_to),
                manageButton(c)], {case: w.id, group: w.language + "|" + w.channel})
      .className = "urgency-" + w.urgency;
  }

  function activeRow(tbody, a) {
    const c = {id: a.id, counselor: a.counselor, urgency: a.urgency, channel: a.channel};
    row(tbody, [caseLink(a.id), who(a.counselor), [a.urgency, "urgency"], a.language,
                a.channel, manageButton(c)], {case: a.id}).className = "urgency-" + a.urgency;
  }

  // The floor's counts: per urgency, and per language and channel with the longest wait.
  let summary = null;
  function showSummary() {
    document.getElementById("unassigned-count").textContent = summary.unassigned;
    document.getElementById("active-count").textContent = summary.active;
    document.getElementById("agent-count").textContent = summary.staff;
    document.getElementById("present-count").textContent = summary.present;
    ["critical", "high", "normal"].forEach(function (u) {
      document.getElementById("waiting-" + u).textContent = summary.by_urgency[u] || 0;
    });
    const tbody = document.querySelector("#groups tbody");
    tbody.innerHTML = "";
    summary.groups.forEach(function (g) {
      row(tbody, [g.language, g.channel, g.waiting, g.by_urgency.critical, g.by_urgency.high,
                  g.by_urgency.normal, waited(g.oldest_waited_seconds)],
          {group: g.language + "|" + g.channel});
    });
  }

  // Each list shows its first page; "More" appends the next one (GET /api/v1/floor/{list}).
  const lists = {
    agents: {body: "#agents tbody", draw: function (tb, a) { agents.push(a); agentRow(tb, a); }},
    unassigned: {body: "#unassigned tbody", draw: waitingRow},
    active: {body: "#active tbody", draw: activeRow},
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
      const tbody = document.querySelector(lists[part].body);
      r.data.items.forEach(function (x) { lists[part].draw(tbody, x); });
      lists[part].shown = (lists[part].shown || 0) + r.data.items.length;
      setNext(part, r.data.next);
    });
  });

  async function load() {
    // As many rows as the lead has opened with "More" (up to 200), so a reload keeps them.
    const limit = Math.min(200, Math.max(50, ...Object.keys(lists).map(function (p) {
      return lists[p].shown || 0;
    })));
    const r = await H.get("/api/v1/floor?limit=" + limit);
    if (!r.ok) { live.textContent = H.failure(r); return; }
    agents = r.data.agents;
    showAgents();
    const un = document.querySelector("#unassigned tbody");
    un.innerHTML = "";
    r.data.unassigned.forEach(function (w) { waitingRow(un, w); });
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
      if (still) describe({id: still.id, counselor: still.counselor || null, urgency: still.urgency,
                     channel: still.channel});
    }
  }
  // Read again at most every 3 s while events keep coming.
  const refresh = H.throttle(load, 3000);

  // What an event changes on the page at once, before the next read of the floor.
  function applyEvent(t, e) {
    if (!summary) return;
    const rows = document.querySelectorAll('tr[data-case="' + e.conversation + '"]');
    if (t === "queued" && e.language && e.channel && e.urgency) {
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
        if (cell) cell.textContent = e.urgency;
      });
    }
  }

  function describe(c) {
    selected = c;
    document.getElementById("manage-title").textContent = "Case " + c.id.slice(0, 8) + " · " +
      (c.counselor === null ? "waiting" : "held by " + who(c.counselor)) + " · " + c.urgency;
    document.querySelector("#requeue button").disabled = c.counselor === null;
    // The ban form (bans.js) bans this case's sender; an address is known for web chats only.
    manage.dataset.case = c.id;
    const byAddress = document.querySelector("#ban-case-scope option[data-webchat]");
    byAddress.disabled = c.channel !== "webchat";
    if (byAddress.disabled && byAddress.selected) byAddress.parentNode.value = "sender";
  }

  function openManage(c) {
    describe(c);
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
      result.textContent = r.ok ? "Done." : H.failure(r);
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
    li.appendChild(H.button("Dismiss", function () { li.remove(); }));
    ul.insertBefore(li, ul.firstChild);
    while (ul.children.length > 5) ul.lastChild.remove();
  }

  function onCoverage(e) {
    const what = e.language + " / " + e.channel;
    banner(e.state === "gap" ? "No cover for " + what + ": nobody suitable is on shift and present."
      : "Everyone covering " + what + " is at capacity.");
  }

  function onAttention(e) {
    const n = (e.conversations || []).length;
    banner(e.reason === "presence_lost"
      ? "The console of " + who(e.counselor) + " went quiet with " + n + " open case(s)."
      : "Needs attention: " + H.label(e.reason));
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
