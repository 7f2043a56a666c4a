// The lead's live view: staff, waiting and active cases, reassign / return to queue /
// urgency for one case at a time, alerts, coverage banners. Reloads on every event.
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

  function showAgents() {
    const tbody = document.querySelector("#agents tbody");
    tbody.innerHTML = "";
    agents.forEach(function (a) {
      if (a.name) names[a.id] = a.name;
      const shift = !a.on_shift ? "no" : a.shift_end_ms ? "until " + clock(a.shift_end_ms)
        : "yes (no roster)";
      row(tbody, [who(a.id), ["" + a.status, "status-" + a.status], shift,
                  [a.present ? "yes" : "no", a.present ? "" : "warn"],
                  [a.load + "/" + a.max_chats, "load" + (a.load >= a.max_chats ? " full" : "")],
                  a.on_call ? "yes" : "", a.languages.join(", ")], {agent: a.id});
    });
    document.getElementById("agent-count").textContent = agents.length;
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

  async function load() {
    const r = await H.get("/api/v1/floor");
    if (!r.ok) { live.textContent = H.failure(r); return; }
    agents = r.data.agents;
    showAgents();
    const un = document.querySelector("#unassigned tbody");
    un.innerHTML = "";
    r.data.unassigned.forEach(function (w) {
      const c = {id: w.id, counselor: null, urgency: w.urgency, channel: w.channel};
      row(un, [caseLink(w.id), w.urgency, w.language, w.channel, waited(w.waited_seconds),
               w.offered_to === null ? "" : "offered to " + who(w.offered_to),
               manageButton(c)], {case: w.id}).className = "urgency-" + w.urgency;
    });
    const act = document.querySelector("#active tbody");
    act.innerHTML = "";
    r.data.active.forEach(function (a) {
      const c = {id: a.id, counselor: a.counselor, urgency: a.urgency, channel: a.channel};
      row(act, [caseLink(a.id), who(a.counselor), a.urgency, a.language, a.channel,
                manageButton(c)], {case: a.id}).className = "urgency-" + a.urgency;
    });
    document.getElementById("unassigned-count").textContent = r.data.unassigned.length;
    document.getElementById("active-count").textContent = r.data.active.length;
    if (selected) {
      const still = r.data.unassigned.concat(r.data.active).filter(function (x) {
        return x.id === selected.id;
      })[0];
      if (!still) { manage.hidden = true; selected = null; }
      else describe({id: still.id, counselor: still.counselor || null, urgency: still.urgency,
                     channel: still.channel});
    }
  }
  const refresh = H.coalesce(load);

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
  const types = ["queued", "assigned", "message", "closed", "reset", "offered", "offer.expired",
                 "offer.declined", "presence", "urgency", "alert", "alert.acked", "coverage",
                 "handover", "handover.planned", "lead.attention", "roster", "victim.left",
                 "bans"];
  const handlers = {};
  types.forEach(function (t) {
    handlers[t] = function (e) {
      if (t === "bans") { window.HotlineBans.refresh(); return; }
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
