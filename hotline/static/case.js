// One case: what we know about the contact (wait, whether the victim is still there, their
// answers, takedown), the transcript with times, senders and each reply's delivery state, the
// reply box (locked once the case is no longer mine), spreading flag, handover, return to the
// queue, and closing with the intake form (after a confirmation). Takedown staff get the same
// page read-only (no reply or case controls in it).
"use strict";
(function () {
  const H = window.Hotline;
  const root = document.getElementById("case");
  const id = root.dataset.case;
  const me = Number(root.dataset.me);
  const mayAct = root.dataset.mayAct === "1";
  const list = document.getElementById("transcript");
  const errorBox = document.getElementById("error");
  const statusEl = document.getElementById("case-status");
  const actionResult = document.getElementById("action-result");
  const flagButton = document.getElementById("flag-spreading");
  const replyForm = document.getElementById("reply");
  const locked = document.getElementById("reply-locked");
  const lines = {};  // seq -> the transcript line's delivery element
  let lastSeq = 0;
  let pending = null;

  function showError(t) { errorBox.textContent = t; errorBox.hidden = !t; }

  function showHandovers(notes) {
    const box = document.getElementById("handovers");
    const ol = document.getElementById("handover-list");
    ol.innerHTML = "";
    (notes || []).forEach(function (n) {
      const li = H.el("li", n.done ? "done" : "planned");
      const when = new Date(n.at).toLocaleString(H.lang);
      li.appendChild(H.el("div", "muted", T("case.handover_from_to", {
        from: "#" + n.from, to: n.to === null ? T("case.handover_to_queue") : "#" + n.to,
        at: when}) + (n.done ? "" : " · " + T("case.handover_planned"))));
      li.appendChild(H.el("p", "note", n.note || T("case.no_note")));
      ol.appendChild(li);
    });
    box.hidden = !notes || notes.length === 0;
  }

  function showUrgency(data) {
    document.getElementById("case-urgency").textContent = H.code("urgency", data.urgency);
    document.getElementById("case-reasons").textContent =
      data.reasons.length ? "(" + H.reasons(data.reasons) + ")" : "";
    if (window.CaseSignals) window.CaseSignals.load();
    if (!flagButton) return;
    const spreading = data.reasons.indexOf("content_spreading") >= 0;
    flagButton.disabled = spreading || data.status === "closed";
    flagButton.textContent = spreading ? T("case.flagged_spreading") : T("case.flag_spreading");
    // The intake form's urgency follows the case until the counselor picks one.
    const pick = document.getElementById("close-urgency");
    if (!pick.dataset.touched) pick.value = data.urgency;
  }

  function showFacts(data) {
    const waited = document.getElementById("fact-waited");
    waited.innerHTML = "";
    if (data.status === "waiting") {
      waited.textContent = T("case.waiting_now", {wait: H.minSec(data.waited_seconds)});
    } else {
      waited.textContent = T("case.waited", {wait: H.minSec(data.waited_seconds)});
    }
    document.getElementById("fact-victim").textContent = data.victim_left_at
      ? T("case.victim_left", {at: H.time(data.victim_left_at)}) : T("case.victim_here");
    // A case with no message from the victim (a phone call) has no such line, not an empty one.
    const lastLine = document.getElementById("fact-last");
    lastLine.hidden = !data.last_victim_at;
    lastLine.replaceChildren(...(data.last_victim_at
      ? [H.agoEl(data.last_victim_at, "", "case.victim_last")] : []));
    const td = data.takedown || [];
    const last = td[td.length - 1];
    const takedown = document.getElementById("fact-takedown");
    takedown.textContent = !last ? T("case.takedown_none")
      : last.acked_by ? T("case.takedown_acked", {at: H.time(last.at), who: last.acked_by,
                                                   acked: H.time(last.acked_at)})
      : last.acked_at ? T("case.takedown_resolved", {at: H.time(last.at),
                                                      why: T("alerts.resolved_" + last.via)})
      : T("case.takedown_open", {at: H.time(last.at)});
    takedown.className = last && !last.acked_at ? "warn" : "";
    const dl = document.getElementById("answers");
    dl.innerHTML = "";
    const a = data.intake_answers || {};
    const yesNo = function (v) { return v ? T("case.yes") : T("case.no"); };
    const rows = [
      ["spreading", T("case.answer_spreading"), yesNo],
      ["age_group", T("case.answer_age"), function (v) { return T("case.age_group_" + v); }],
      ["safe_now", T("case.answer_safe"), yesNo],
      ["platform", T("case.answer_platform"), function (v) {
        return T.has("intake.platform_" + v) ? T("intake.platform_" + v) : String(v);
      }]];
    rows.forEach(function (r) {
      if (a[r[0]] === undefined || a[r[0]] === null) return;
      dl.appendChild(H.el("dt", "", r[1]));
      dl.appendChild(H.el("dd", "", r[2](a[r[0]])));
    });
    document.getElementById("answers-none").hidden = dl.children.length > 0;
  }

  function deliveryWords(m) {
    if (m.delivery === "failed") {
      return m.delivery_error ? T("case.delivery_failed_why", {why: m.delivery_error})
        : T("case.delivery_failed");
    }
    return T.has("case.delivery_" + m.delivery) ? T("case.delivery_" + m.delivery) : m.delivery;
  }

  function line(m) {
    // A system line (a Quick exit, a notice sent on close) is the service speaking, not a
    // counselor: shown apart from both sides of the conversation.
    const kind = m.direction === "in" ? "victim" : m.direction === "system" ? "system" : "counselor";
    const li = H.el("li", kind);
    li.dataset.seq = m.seq;
    const head = H.el("div", "line-head");
    head.appendChild(H.el("span", "who", kind === "victim" ? T("case.victim")
      : kind === "system" ? T("case.system") : T("case.counselor")));
    const at = H.el("time", "at", H.time(m.at));
    at.dateTime = m.at;
    head.appendChild(at);
    li.appendChild(head);
    li.appendChild(H.el("div", "text", m.text === null ? T("case.deleted") : m.text));
    if (kind === "counselor") {
      const d = H.el("span", "delivery delivery-" + m.delivery, deliveryWords(m));
      head.appendChild(d);
      lines[m.seq] = d;
    }
    return li;
  }

  // The reply box is open only while the case is mine and open; `data` null: the case is
  // no longer ours to read (reassigned away).
  function lock(data) {
    if (!replyForm) return;
    const mine = data !== null && data.counselor_id === me && data.status === "active";
    const lockedNow = data === null || (!mine && data.status !== "waiting");
    document.querySelectorAll("#reply textarea, #reply button, #handover button, #close button")
      .forEach(function (e) { e.disabled = lockedNow; });
    // The case actions keep their own state (showUrgency) unless the case is locked.
    if (lockedNow) document.querySelectorAll(".actions button").forEach(function (e) { e.disabled = true; });
    locked.hidden = !lockedNow;
    locked.textContent = data === null ? T("case.locked_away")
      : data.status === "closed" ? T("case.locked_closed")
      : T("case.locked", {who: data.holder_name || "#" + data.counselor_id});
  }

  async function load() {
    // From the start each time: a reply's delivery state changes after it is shown.
    const r = await H.get("/api/v1/cases/" + id + "?after=0");
    if (r.status === 404 && replyForm) {
      // Reassigned away: the case is no longer ours to read or answer. What was shown stays;
      // the reply box locks with a notice.
      lock(null);
      return;
    }
    if (!r.ok) { showError(r.status === 404 ? T("case.not_yours") : T("case.load_failed")); return; }
    H.learnSkew(r);
    const data = r.data;
    statusEl.textContent = H.code("status", data.status);
    root.dataset.status = data.status;
    root.dataset.holder = data.counselor_id === null ? "" : String(data.counselor_id);
    showUrgency(data);
    showHandovers(data.handovers);
    showFacts(data);
    lock(data);
    const requeue = document.getElementById("requeue");
    if (requeue) requeue.disabled = data.status !== "active" || data.counselor_id !== me;
    data.messages.forEach(function (m) {
      if (m.seq <= lastSeq) {
        const d = lines[m.seq];
        if (d) { d.textContent = deliveryWords(m); d.className = "delivery delivery-" + m.delivery; }
        return;
      }
      lastSeq = m.seq;
      list.appendChild(line(m));
    });
  }
  const refresh = H.coalesce(load);

  if (mayAct) {
    replyForm.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const box = document.getElementById("reply-text");
      const text = box.value.trim();
      if (!text) return;
      pending = pending && pending.text === text ? pending
        : {text: text, client_id: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()};
      const r = await H.post("/api/v1/cases/" + id + "/messages", pending);
      if (r.ok) { pending = null; box.value = ""; showError(""); refresh(); }
      else { showError(H.failure(r)); refresh(); }
    });

    flagButton.addEventListener("click", async function () {
      const r = await H.post("/api/v1/cases/" + id + "/flag-spreading");
      if (!r.ok) { actionResult.textContent = H.failure(r); return; }
      actionResult.textContent = r.data.changed ? T("case.flag_done") : T("case.flag_already");
      refresh();
    });

    document.getElementById("requeue").addEventListener("click", async function () {
      const r = await H.post("/api/v1/cases/" + id + "/requeue", {reason: "other"});
      if (r.ok) window.location = "/console";
      else actionResult.textContent = H.failure(r);
    });

    // Colleagues on shift now for this case's language and channel, for the handover: the
    // first 50 (present first, then whoever stays longest), not the whole roster.
    (async function loadColleagues() {
      const r = await H.get("/api/v1/cases/" + id + "/colleagues");
      if (!r.ok) return;
      const select = document.getElementById("handover-to");
      r.data.colleagues.forEach(function (p) {
        const values = {name: p.name + " (#" + p.id + ")",
                        languages: p.languages.map(function (l) { return H.code("lang", l); }).join(", ")};
        if (p.until) values.until = H.time(p.until);
        const opt = H.el("option", "", T(p.until ? "case.colleague_until" : "case.colleague", values));
        opt.value = p.id;
        select.appendChild(opt);
      });
    })();

    document.getElementById("handover").addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const f = new FormData(ev.target);
      const to = f.get("to");
      const out = document.getElementById("handover-result");
      const r = await H.post("/api/v1/cases/" + id + "/handover",
                             {to_counselor_id: to ? Number(to) : null, note: f.get("note")});
      out.textContent = r.ok ? T("case.handover_saved") : H.failure(r);
      if (r.ok) { ev.target.reset(); refresh(); }
    });

    document.getElementById("close-urgency").addEventListener("change", function (ev) {
      ev.target.dataset.touched = "1";
    });

    // Closing asks first: it tells the victim the conversation ended and cannot be undone.
    const closeForm = document.getElementById("close");
    const confirmBox = document.getElementById("close-confirm");
    closeForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      confirmBox.hidden = false;
      document.getElementById("close-yes").focus();
    });
    document.getElementById("close-no").addEventListener("click", function () {
      confirmBox.hidden = true;
      document.getElementById("close-submit").focus();
    });
    document.getElementById("close-yes").addEventListener("click", async function () {
      confirmBox.hidden = true;
      const f = new FormData(closeForm);
      const body = {harm_type: f.get("harm_type"), platforms: f.getAll("platforms"),
                    age_band: f.get("age_band"), relation: f.get("relation") || "unknown",
                    urgency: f.get("urgency"),
                    referrals: f.getAll("referrals"), outcome: f.get("outcome")};
      const r = await H.post("/api/v1/cases/" + id + "/close", body);
      if (r.ok) window.location = "/console";
      else showError(H.failure(r));
    });
  }

  // Events of other cases come as their type alone ("the queue moved"): not this page's.
  function forThisCase(e) { if (e.conversation === id) refresh(); }
  // An assignment of a case I may no longer read comes as its type alone: look again.
  function assigned(e) { if (!e.conversation || e.conversation === id) refresh(); }
  H.events({message: forThisCase, closed: forThisCase, assigned: assigned, reset: refresh,
            urgency: forThisCase, handover: forThisCase, "handover.planned": forThisCase,
            queued: forThisCase, "victim.left": forThisCase, delivery: forThisCase,
            alert: forThisCase, "alert.acked": forThisCase}, null, refresh);
  refresh();
})();
