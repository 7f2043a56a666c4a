// One case: handover notes, urgency, transcript, reply, spreading flag, handover, return to
// the queue, close with the intake form.
"use strict";
(function () {
  const H = window.Hotline;
  const root = document.getElementById("case");
  const id = root.dataset.case;
  const me = Number(root.dataset.me);
  const list = document.getElementById("transcript");
  const errorBox = document.getElementById("error");
  const statusEl = document.getElementById("case-status");
  const actionResult = document.getElementById("action-result");
  const flagButton = document.getElementById("flag-spreading");
  let lastSeq = 0;
  let pending = null;

  function showError(t) { errorBox.textContent = t; errorBox.hidden = !t; }

  function showHandovers(notes) {
    const box = document.getElementById("handovers");
    const ol = document.getElementById("handover-list");
    ol.innerHTML = "";
    (notes || []).forEach(function (n) {
      const li = H.el("li", n.done ? "done" : "planned");
      const when = new Date(n.at).toLocaleString();
      li.appendChild(H.el("div", "muted", "From #" + n.from + " to " +
        (n.to === null ? "the queue" : "#" + n.to) + " · " + when +
        (n.done ? "" : " · planned for the end of the shift")));
      li.appendChild(H.el("p", "note", n.note || "(no note)"));
      ol.appendChild(li);
    });
    box.hidden = !notes || notes.length === 0;
  }

  function showUrgency(data) {
    document.getElementById("case-urgency").textContent = data.urgency;
    document.getElementById("case-reasons").textContent =
      data.reasons.length ? " (" + data.reasons.map(H.label).join(", ") + ")" : "";
    const spreading = data.reasons.indexOf("content_spreading") >= 0;
    flagButton.disabled = spreading || data.status === "closed";
    flagButton.textContent = spreading ? "Marked as spreading" : "Content is spreading now";
    // The intake form's urgency follows the case until the counselor picks one.
    const pick = document.getElementById("close-urgency");
    if (!pick.dataset.touched) pick.value = data.urgency;
    if (window.CaseSignals) window.CaseSignals.load();
  }

  async function load() {
    const r = await H.get("/api/v1/cases/" + id + "?after=" + lastSeq);
    if (!r.ok) { showError(r.status === 404 ? "This case is no longer yours." : "Could not load."); return; }
    const data = r.data;
    // Quick exit: the victim left the web chat in a hurry; no answer comes from that browser.
    statusEl.textContent = data.status + (data.victim_left_at ? " · " + T("floor.victim_left") : "");
    root.dataset.status = data.status;
    showUrgency(data);
    showHandovers(data.handovers);
    document.getElementById("requeue").disabled = data.status !== "active";
    data.messages.forEach(function (m) {
      if (m.seq <= lastSeq) return;
      lastSeq = m.seq;
      const li = document.createElement("li");
      li.className = m.direction === "in" ? "victim" : "counselor";
      li.textContent = m.text === null ? "(deleted under retention)" : m.text;
      list.appendChild(li);
    });
  }
  const refresh = H.coalesce(load);

  document.getElementById("reply").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const box = document.getElementById("reply-text");
    const text = box.value.trim();
    if (!text) return;
    pending = pending && pending.text === text ? pending
      : {text: text, client_id: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()};
    const r = await H.post("/api/v1/cases/" + id + "/messages", pending);
    if (r.ok) { pending = null; box.value = ""; showError(""); refresh(); }
    else showError(H.failure(r));
  });

  flagButton.addEventListener("click", async function () {
    const r = await H.post("/api/v1/cases/" + id + "/flag-spreading");
    if (!r.ok) { actionResult.textContent = H.failure(r); return; }
    actionResult.textContent = r.data.changed
      ? "Flagged: the takedown staff on shift are alerted." : "Already flagged as spreading.";
    refresh();
  });

  document.getElementById("requeue").addEventListener("click", async function () {
    const r = await H.post("/api/v1/cases/" + id + "/requeue", {reason: "other"});
    if (r.ok) window.location = "/console";
    else actionResult.textContent = H.failure(r);
  });

  // Colleagues on shift now, for the handover.
  async function loadColleagues() {
    const r = await H.get("/api/v1/roster");
    if (!r.ok) return;
    const select = document.getElementById("handover-to");
    r.data.on_shift.forEach(function (p) {
      if (p.id === me) return;
      const until = p.until ? " · until " + new Date(p.until).toLocaleTimeString([],
        {hour: "2-digit", minute: "2-digit"}) : "";
      const opt = H.el("option", "", p.name + " (#" + p.id + ") · " + p.languages.join(", ") +
                       until);
      opt.value = p.id;
      select.appendChild(opt);
    });
  }

  document.getElementById("handover").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const to = f.get("to");
    const out = document.getElementById("handover-result");
    const r = await H.post("/api/v1/cases/" + id + "/handover",
                           {to_counselor_id: to ? Number(to) : null, note: f.get("note")});
    out.textContent = r.ok ? "Handover saved." : H.failure(r);
    if (r.ok) { ev.target.reset(); refresh(); }
  });

  document.getElementById("close-urgency").addEventListener("change", function (ev) {
    ev.target.dataset.touched = "1";
  });

  document.getElementById("close").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = {harm_type: f.get("harm_type"), platforms: f.getAll("platforms"),
                  age_band: f.get("age_band"), urgency: f.get("urgency"),
                  referrals: f.getAll("referrals"), outcome: f.get("outcome")};
    const r = await H.post("/api/v1/cases/" + id + "/close", body);
    if (r.ok) window.location = "/console";
    else showError(H.failure(r));
  });

  // Events of other cases come as their type alone ("the queue moved"): not this page's.
  function forThisCase(e) { if (e.conversation === id) refresh(); }
  H.events({message: forThisCase, closed: forThisCase, assigned: forThisCase, reset: refresh,
            urgency: forThisCase, handover: forThisCase, "handover.planned": forThisCase,
            queued: forThisCase, "victim.left": forThisCase}, null, null);
  loadColleagues();
  refresh();
})();
