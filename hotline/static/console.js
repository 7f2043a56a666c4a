// The floor: my status, offers for me, alerts, the waiting queue and my cases, kept live by
// the console event stream.
"use strict";
(function () {
  const H = window.Hotline;
  const root = document.getElementById("floor");
  const me = Number(root.dataset.me);
  const tbody = document.querySelector("#queue tbody");
  const mine = document.getElementById("mine");
  const live = document.getElementById("live");
  const takeResult = document.getElementById("take-result");
  const offersList = document.getElementById("offers-list");
  const offerResult = document.getElementById("offer-result");
  const baseTitle = document.title;

  function cell(tr, text) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  // --- My status -------------------------------------------------------------------------
  const presenceNow = document.getElementById("presence-now");
  const presenceButtons = document.querySelectorAll(".presence-bar button[data-status]");

  function showPresence(status) {
    root.dataset.presence = status;
    presenceButtons.forEach(function (b) {
      const on = b.dataset.status === status;
      b.classList.toggle("current", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    presenceNow.textContent = status === "available" ? "You can be offered new cases."
      : status === "offline" ? "You are offline: choose a status."
      : "No new cases are offered to you (" + status + ").";
  }

  presenceButtons.forEach(function (b) {
    b.addEventListener("click", async function () {
      const r = await H.post("/api/v1/presence", {status: b.dataset.status});
      if (r.ok) showPresence(r.data.status);
      else presenceNow.textContent = H.failure(r);
    });
  });

  // --- Offers for me, with a countdown to each deadline -----------------------------------
  let offers = [];
  let skewMs = 0;  // server clock minus this page's clock, from the Date header
  let seen = new Set();

  function countdown(o) {
    if (!o.deadline_ms) return "";
    const left = Math.ceil((o.deadline_ms - (Date.now() + skewMs)) / 1000);
    return left > 0 ? left + " s left" : "expiring…";
  }

  function tick() {
    offersList.querySelectorAll("li").forEach(function (li, i) {
      if (offers[i]) li.querySelector(".countdown").textContent = countdown(offers[i]);
    });
  }

  async function answer(o, action) {
    const r = await H.post("/api/v1/offers/" + o.id + "/" + action);
    if (r.ok && action === "accept") { window.location = "/console/cases/" + o.id; return; }
    offerResult.textContent = r.ok ? "" : H.failure(r);
    refreshOffers();
  }

  async function loadOffers() {
    const r = await H.get("/api/v1/offers/mine");
    if (!r.ok) return;
    const server = Date.parse(r.date || "");
    // The Date header has whole seconds: +500 ms halves the error.
    if (!isNaN(server)) skewMs = server + 500 - Date.now();
    offers = r.data.offers;
    const fresh = offers.filter(function (o) { return !seen.has(o.id); });
    seen = new Set(offers.map(function (o) { return o.id; }));
    offersList.innerHTML = "";
    offers.forEach(function (o) {
      const li = H.el("li", "offer urgency-" + o.urgency +
                      (fresh.indexOf(o) >= 0 ? " fresh" : ""));
      li.dataset.case = o.id;
      li.appendChild(H.el("strong", "", o.id.slice(0, 8)));
      li.appendChild(H.el("span", "", o.channel + " · " + o.language + " · " + o.urgency));
      li.appendChild(H.el("span", "countdown", countdown(o)));
      li.appendChild(H.button("Accept", function () { answer(o, "accept"); }, "primary"));
      li.appendChild(H.button("Decline", function () { answer(o, "decline"); }));
      offersList.appendChild(li);
    });
    document.getElementById("offer-count").textContent = offers.length;
    document.getElementById("offers-empty").hidden = offers.length > 0;
    document.getElementById("offers").classList.toggle("has-offers", offers.length > 0);
    document.title = offers.length ? "(" + offers.length + ") New offer · " + baseTitle
      : baseTitle;
  }
  const refreshOffers = H.coalesce(loadOffers);

  // --- Alerts ------------------------------------------------------------------------------
  const refreshAlerts = H.alertsPanel(document.getElementById("alerts"),
                                      root.dataset.linkCases === "1");

  // --- The queue and my cases ------------------------------------------------------------
  async function take(id) {
    const r = await H.post("/api/v1/cases/" + id + "/take");
    if (r.ok) window.location = "/console/cases/" + id;
    else takeResult.textContent = H.failure(r);
  }

  async function loadQueue() {
    const [q, m] = await Promise.all([H.get("/api/v1/queue"), H.get("/api/v1/cases/mine")]);
    if (!q.ok || !m.ok) return;
    const queue = q.data.waiting;
    // The first page only (the best 50): the count is the whole queue's.
    document.getElementById("waiting-count").textContent = q.data.total;
    document.getElementById("queue-more").hidden = q.data.next === null;
    tbody.innerHTML = "";
    queue.forEach(function (w) {
      const tr = document.createElement("tr");
      tr.className = "urgency-" + w.urgency;
      tr.dataset.case = w.id;
      cell(tr, w.id.slice(0, 8));
      cell(tr, w.channel);
      cell(tr, w.language);
      cell(tr, w.urgency);
      cell(tr, Math.floor(w.waited_seconds / 60) + " min " + (w.waited_seconds % 60) + " s");
      cell(tr, w.offered_to === null || w.offered_to === undefined ? ""
        : "offered to #" + w.offered_to + (w.offered_to === me ? " (you)" : ""));
      cell(tr, "").appendChild(H.button("Take", function () { take(w.id); }));
      tbody.appendChild(tr);
    });
    mine.innerHTML = "";
    m.data.cases.forEach(function (c) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "/console/cases/" + c.id;
      a.textContent = c.id.slice(0, 8) + " · " + c.channel + " · " + c.language + " · " + c.urgency;
      li.appendChild(a);
      mine.appendChild(li);
    });
  }
  // In a surge every console hears of every new case: reload at most every 2 s.
  const refreshQueue = H.throttle(loadQueue, 2000);

  document.getElementById("take-next").addEventListener("click", async function () {
    const r = await H.post("/api/v1/queue/take-next");
    if (r.ok) window.location = "/console/cases/" + r.data.conversation;
    else takeResult.textContent = H.failure(r);
  });

  function everything() { refreshQueue(); refreshOffers(); refreshAlerts(); }

  H.events({
    queued: refreshQueue, closed: refreshQueue, message: refreshQueue, urgency: refreshQueue,
    handover: refreshQueue, reset: everything,
    assigned: function () { refreshQueue(); refreshOffers(); },
    offered: function () { refreshQueue(); refreshOffers(); },
    "offer.expired": function () { refreshQueue(); refreshOffers(); },
    "offer.declined": function () { refreshQueue(); refreshOffers(); },
    alert: refreshAlerts, "alert.acked": refreshAlerts,
    presence: function (e) { if (e.counselor === me) showPresence(e.status); },
  }, live, everything);

  showPresence(root.dataset.presence);
  setInterval(function () { H.post("/api/v1/presence/heartbeat"); }, 15000);
  setInterval(tick, 1000);
  everything();
})();
