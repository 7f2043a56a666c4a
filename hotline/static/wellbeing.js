// Limits that protect counselors, on three pages: the floor suggests a break when one is due;
// a case page lets its counselor mark it as hard (a debrief flag); the lead view lists who
// has gone longest without a break, exposure this shift and caps reached, and open debriefs.
"use strict";
(function () {
  const H = window.Hotline;
  const T = window.T;

  // The floor: a break suggestion, checked every five minutes.
  const due = document.getElementById("break-due");
  if (due) {
    const check = async function () {
      const r = await H.get("/api/v1/me/wellbeing");
      if (!r.ok) return;
      due.hidden = !r.data.break_due;
      if (r.data.break_due) due.textContent = T("staff.break_due", {minutes: r.data.minutes_since_break});
    };
    check();
    window.setInterval(check, 300000);
  }

  // A case: "this case was hard".
  const hard = document.getElementById("mark-hard");
  if (hard) {
    hard.addEventListener("click", async function () {
      const cid = document.getElementById("case").dataset.case;
      const r = await H.post("/api/v1/cases/" + cid + "/hard", {});
      document.getElementById("mark-hard-done").textContent = r.ok ? T("staff.marked_hard") : H.failure(r);
      if (r.ok) hard.disabled = true;
    });
  }

  // The lead view.
  const people = document.getElementById("wellbeing-people");
  if (!people) return;
  const debriefs = document.getElementById("debriefs");
  const names = {};
  async function refresh() {
    const r = await H.get("/api/v1/wellbeing");
    if (!r.ok) return;
    people.textContent = "";
    r.data.people.forEach(function (p) {
      names[p.id] = p.name;
      const tr = document.createElement("tr");
      if (p.break_due || p.caps_reached.length) tr.className = "attention";
      const caps = p.caps_reached.map(function (c) { return T("staff.cap_" + c); }).join(", ");
      [p.name, p.minutes_since_break === null ? "—" : String(p.minutes_since_break),
       String(p.critical_cases), String(p.critical_minutes), String(p.evidence_revealed),
       caps || "—"].forEach(function (text) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      });
      people.appendChild(tr);
    });
    debriefs.textContent = "";
    r.data.debriefs.forEach(function (d) {
      const li = document.createElement("li");
      li.textContent = T("staff.debrief_line", {name: names[d.counselor_id] || ("#" + d.counselor_id),
                                                case: d.conversation_id.slice(0, 8),
                                                at: d.flagged_at.slice(0, 16)}) + " ";
      li.appendChild(H.button(T("staff.debrief_clear"), async function () {
        const done = await H.post("/api/v1/debriefs/" + d.id + "/clear", {});
        if (done.ok) refresh();
      }));
      debriefs.appendChild(li);
    });
  }
  refresh();
  window.setInterval(refresh, 60000);
})();
