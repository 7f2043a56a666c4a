// The floor: my status (never contradicting take-next), alerts, the waiting queue with each
// case's reasons and a live wait clock, and my cases, kept live by the console event stream.
// Offers are in the bar every console page has (common.js).
"use strict";
(function () {
  const H = window.Hotline;
  const root = document.getElementById("floor");
  const me = Number(root.dataset.me);
  const tbody = document.querySelector("#queue tbody");
  const mine = document.getElementById("mine");
  const live = document.getElementById("live");
  const takeResult = document.getElementById("take-result");

  function cell(tr, content) {
    const td = document.createElement("td");
    if (content instanceof Node) td.appendChild(content);
    else td.textContent = content;
    tr.appendChild(td);
    return td;
  }

  // --- My status -------------------------------------------------------------------------
  // The line says what take-next would say: the server's first reason this person gets no new
  // case (GET /api/v1/me: `blocked`), not just the chosen status.
  const presenceNow = document.getElementById("presence-now");
  const presenceButtons = document.querySelectorAll(".presence-bar button[data-status]");

  function showPresence(status, blocked) {
    root.dataset.presence = status;
    presenceButtons.forEach(function (b) {
      const on = b.dataset.status === status;
      b.classList.toggle("current", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    let line;
    if (status === "offline") line = T("floor.status_offline");
    else if (status !== "available") {
      line = T("floor.status_not_offered", {status: H.code("presence", status)});
    } else if (blocked && blocked !== "capacity") {
      line = T("floor.status_blocked", {why: H.words(blocked)});
    } else line = T("floor.status_can_be_offered");
    presenceNow.textContent = line;
    presenceNow.dataset.blocked = blocked || "";
  }

  async function loadMe() {
    const r = await H.get("/api/v1/me");
    if (r.ok) showPresence(r.data.status || root.dataset.presence, r.data.blocked);
  }
  const refreshMe = H.coalesce(loadMe);

  presenceButtons.forEach(function (b) {
    b.addEventListener("click", async function () {
      const r = await H.post("/api/v1/presence", {status: b.dataset.status});
      if (r.ok) refreshMe();
      else presenceNow.textContent = H.failure(r);
    });
  });

  // --- Alerts ------------------------------------------------------------------------------
  const refreshAlerts = H.alertsPanel(document.getElementById("alerts"),
                                      root.dataset.linkCases === "1");

  // --- The queue and my cases ------------------------------------------------------------
  async function take(id) {
    const r = await H.post("/api/v1/cases/" + id + "/take");
    if (r.ok) window.location = "/console/cases/" + id;
    else takeResult.textContent = H.failure(r);
  }

  // The queue's first page comes pushed on the stream (`queue.page`: after the queue moved,
  // at most every 2 s, the same page for every console; cases/queue_feed.py). It is read
  // here only when the page opens or its stream (re)connects.
  let pushed = 0;
  function showQueue(page) {
    const now = H.serverNow();
    const queue = page.waiting;
    // The first page only (the best 50): the count is the whole queue's.
    document.getElementById("waiting-count").textContent = page.total;
    document.getElementById("queue-more").hidden = page.next === null;
    document.getElementById("queue-empty").hidden = queue.length > 0;
    tbody.innerHTML = "";
    queue.forEach(function (w) {
      const tr = document.createElement("tr");
      tr.className = "urgency-" + w.urgency;
      tr.dataset.case = w.id;
      cell(tr, w.id.slice(0, 8));
      cell(tr, H.code("channel", w.channel));
      cell(tr, H.code("lang", w.language));
      cell(tr, H.code("urgency", w.urgency));
      cell(tr, H.reasons(w.reasons)).className = "reasons";
      cell(tr, H.clockEl(now - w.waited_seconds * 1000)).className = "waited";
      cell(tr, w.offered_to === null || w.offered_to === undefined ? ""
        : w.offered_to === me ? T("floor.offered_to_you")
        : T("floor.offered_to", {who: (page.names || {})[w.offered_to] || "#" + w.offered_to}));
      cell(tr, H.button(T("floor.take"), function () { take(w.id); }));
      tbody.appendChild(tr);
    });
  }

  async function loadQueue() {
    const before = pushed;
    const q = await H.get("/api/v1/queue");
    if (!q.ok) return;
    H.learnSkew(q);
    if (pushed === before) showQueue(q.data);  // else a newer page came meanwhile
  }

  async function loadMine() {
    const m = await H.get("/api/v1/cases/mine");
    if (!m.ok) return;
    mine.innerHTML = "";
    m.data.cases.forEach(function (c) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "/console/cases/" + c.id;
      a.textContent = [c.id.slice(0, 8), H.code("channel", c.channel), H.code("lang", c.language),
                       H.code("urgency", c.urgency)].join(" · ");
      li.appendChild(a);
      mine.appendChild(li);
    });
    document.getElementById("mine-empty").hidden = m.data.cases.length > 0;
  }
  const reloadQueue = H.coalesce(loadQueue);
  // My cases change when one is given to me, taken from me, closed or re-rated. The stream
  // carries only such events: in full for my cases, as their type alone for a case taken
  // from me or an offer of mine that ended with the case taken or closed elsewhere.
  const refreshMine = H.throttle(loadMine, 2000);

  document.getElementById("take-next").addEventListener("click", async function () {
    const r = await H.post("/api/v1/queue/take-next");
    if (r.ok) window.location = "/console/cases/" + r.data.conversation;
    else { takeResult.textContent = H.failure(r); refreshMe(); }
  });

  function everything() { reloadQueue(); refreshMine(); refreshAlerts(); refreshMe(); }

  H.events({
    "queue.page": function (page) {
      pushed += 1;
      root.dataset.queuePages = String(pushed);
      showQueue(page);
    },
    queued: refreshMine, urgency: refreshMine, language: refreshMine, handover: refreshMine,
    assigned: function () { refreshMine(); refreshAlerts(); refreshMe(); },
    closed: function () { refreshMine(); H.refreshOffers(); },
    reset: everything, roster: refreshMe, alert: refreshAlerts, "alert.acked": refreshAlerts,
    presence: function (e) { if (e.counselor === me) refreshMe(); },
  }, live, everything);

  showPresence(root.dataset.presence, null);
  setInterval(function () { H.post("/api/v1/presence/heartbeat"); }, 15000);
  everything();
})();
