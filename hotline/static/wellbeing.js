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

  // The lead view: a page at a time (a floor may have a thousand people present), whoever
  // needs a word first; "More" appends the next page, and the minute's refresh reads as many
  // rows as are shown (up to 200).
  const people = document.getElementById("wellbeing-people");
  if (!people) return;
  const debriefs = document.getElementById("debriefs");
  const more = document.getElementById("wellbeing-more");
  const counts = document.getElementById("wellbeing-counts");
  const names = {};
  let next = null;
  let shown = 0;
  function draw(p) {
    names[p.id] = p.name;
    const tr = document.createElement("tr");
    if (p.attention) tr.className = "attention";
    const caps = p.caps_reached.map(function (c) { return T("staff.cap_" + c); }).join(", ");
    [p.name, p.minutes_since_break === null ? "—" : String(p.minutes_since_break),
     String(p.critical_cases), String(p.critical_minutes), String(p.evidence_revealed),
     caps || "—"].forEach(function (text) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    });
    people.appendChild(tr);
    shown += 1;
  }
  function setNext(cursor) {
    next = cursor;
    more.hidden = next === null;
  }
  more.addEventListener("click", async function () {
    if (next === null) return;
    const r = await H.get("/api/v1/wellbeing?limit=50&after=" + encodeURIComponent(next));
    if (!r.ok) return;
    r.data.people.forEach(draw);
    setNext(r.data.next);
  });
  async function refresh() {
    const r = await H.get("/api/v1/wellbeing?limit=" + Math.min(200, Math.max(50, shown)));
    if (!r.ok) return;
    people.textContent = "";
    shown = 0;
    r.data.people.forEach(draw);
    setNext(r.data.next);
    counts.textContent = T("staff.wellbeing_counts", {present: r.data.present,
                                                      break_due: r.data.break_due,
                                                      capped: r.data.capped});
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
