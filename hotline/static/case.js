// One case: transcript, reply, close with the intake form.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const root = document.getElementById("case");
  const id = root.dataset.case;
  const list = document.getElementById("transcript");
  const errorBox = document.getElementById("error");
  const statusEl = document.getElementById("case-status");
  let lastSeq = 0;
  let pending = null;

  function showError(t) { errorBox.textContent = t; errorBox.hidden = !t; }

  function api(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
                       headers: {"X-CSRF-Token": csrf, "Content-Type": "application/json"},
                       body: JSON.stringify(body)});
  }

  async function refresh() {
    const r = await fetch("/api/v1/cases/" + id + "?after=" + lastSeq, {credentials: "same-origin"});
    if (!r.ok) { showError(r.status === 404 ? "This case is no longer yours." : "Could not load."); return; }
    const data = await r.json();
    statusEl.textContent = data.status;
    data.messages.forEach(function (m) {
      if (m.seq <= lastSeq) return;
      lastSeq = m.seq;
      const li = document.createElement("li");
      li.className = m.direction === "in" ? "victim" : "counselor";
      li.textContent = m.text === null ? "(deleted under retention)" : m.text;
      list.appendChild(li);
    });
  }

  document.getElementById("reply").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const box = document.getElementById("reply-text");
    const text = box.value.trim();
    if (!text) return;
    pending = pending && pending.text === text ? pending
      : {text: text, client_id: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()};
    const r = await api("/api/v1/cases/" + id + "/messages", pending);
    if (r.ok) { pending = null; box.value = ""; showError(""); refresh(); }
    else showError((await r.json()).error);
  });

  document.getElementById("close").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = {harm_type: f.get("harm_type"), platforms: f.getAll("platforms"),
                  age_band: f.get("age_band"), urgency: f.get("urgency"),
                  referrals: f.getAll("referrals"), outcome: f.get("outcome")};
    const r = await api("/api/v1/cases/" + id + "/close", body);
    if (r.ok) window.location = "/console";
    else showError((await r.json()).error);
  });

  const source = new EventSource("/api/v1/events");
  ["message", "closed", "assigned", "reset"].forEach(function (t) {
    source.addEventListener(t, function (ev) {
      const e = JSON.parse(ev.data);
      if (!e.conversation || e.conversation === id) refresh();
    });
  });
  refresh();
})();
