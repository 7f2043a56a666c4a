// The floor: waiting queue and my cases, kept live by the console event stream.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const tbody = document.querySelector("#queue tbody");
  const mine = document.getElementById("mine");
  const live = document.getElementById("live");
  const takeResult = document.getElementById("take-result");

  async function post(url) {
    return fetch(url, {method: "POST", credentials: "same-origin",
                       headers: {"X-CSRF-Token": csrf, "Content-Type": "application/json"},
                       body: "{}"});
  }

  function cell(tr, text) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  async function refresh() {
    const [q, m] = await Promise.all([
      fetch("/api/v1/queue", {credentials: "same-origin"}),
      fetch("/api/v1/cases/mine", {credentials: "same-origin"}),
    ]);
    if (q.status === 401 || m.status === 401) { window.location = "/console/login"; return; }
    const queue = (await q.json()).waiting;
    const cases = (await m.json()).cases;
    document.getElementById("waiting-count").textContent = queue.length;
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
      const btn = document.createElement("button");
      btn.type = "button";
      btn.textContent = "Take";
      btn.addEventListener("click", async function () {
        const r = await post("/api/v1/cases/" + w.id + "/take");
        if (r.ok) window.location = "/console/cases/" + w.id;
        else takeResult.textContent = (await r.json()).error;
      });
      cell(tr, "").appendChild(btn);
      tbody.appendChild(tr);
    });
    mine.innerHTML = "";
    cases.forEach(function (c) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "/console/cases/" + c.id;
      a.textContent = c.id.slice(0, 8) + " · " + c.channel + " · " + c.language + " · " + c.urgency;
      li.appendChild(a);
      mine.appendChild(li);
    });
  }

  document.getElementById("take-next").addEventListener("click", async function () {
    const r = await post("/api/v1/queue/take-next");
    const data = await r.json();
    if (r.ok) window.location = "/console/cases/" + data.conversation;
    else takeResult.textContent = data.reason || data.error;
  });

  const source = new EventSource("/api/v1/events");
  ["queued", "assigned", "closed", "reset", "message"].forEach(function (t) {
    source.addEventListener(t, refresh);
  });
  source.onopen = function () { live.textContent = "Live"; refresh(); };
  source.onerror = function () { live.textContent = "Reconnecting…"; };
  setInterval(function () { post("/api/v1/presence/heartbeat"); }, 15000);
  refresh();
})();
