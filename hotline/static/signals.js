// A case's triage signals: what raised each (catalogue words, answers, patterns; never the
// victim's text) and, for the holder or a lead, withdrawing a wrong one with a reason.
"use strict";
window.CaseSignals = (function () {
  const H = window.Hotline;
  const T = window.T;
  const root = document.getElementById("signals");
  const id = root.dataset.case;
  const list = document.getElementById("signal-list");
  const result = document.getElementById("signals-result");

  function term(t) {
    if (t.kind === "phrase") return T("floor.term_phrase", {text: t.text});
    if (t.kind === "answer") return T("floor.term_answer", {text: t.text});
    if (t.kind === "pattern") return T("floor.term_pattern_" + t.text);
    return T("floor.term_" + t.kind);
  }

  function withdrawForm(s, reasons) {
    const form = H.el("form", "withdraw", null);
    const label = H.el("label", "", T("floor.withdraw_reason"));
    const select = document.createElement("select");
    select.name = "reason";
    select.id = "withdraw-" + s.signal;
    label.htmlFor = select.id;
    reasons.forEach(function (r) {
      const o = H.el("option", "", T("floor.withdraw_" + r));
      o.value = r;
      select.appendChild(o);
    });
    const button = H.el("button", "", T("floor.withdraw"));
    button.type = "submit";
    form.append(label, " ", select, " ", button);
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const r = await H.post("/api/v1/cases/" + id + "/signals/" + s.signal + "/withdraw",
                             {reason: select.value});
      if (!r.ok) { result.textContent = H.failure(r); return; }
      const said = [T("floor.withdraw_done", {urgency: H.code("urgency", r.data.urgency)})];
      if (r.data.alerts_withdrawn.length) said.push(T("floor.withdraw_alert"));
      if (r.data.alerts_already_acknowledged.length) said.push(T("floor.withdraw_alert_acked"));
      result.textContent = said.join(" ");
      load();
    });
    return form;
  }

  async function load() {
    const r = await H.get("/api/v1/cases/" + id + "/signals");
    if (!r.ok) return;
    list.innerHTML = "";
    const open = document.getElementById("case").dataset.status !== "closed" &&
      root.dataset.mayWithdraw === "true";
    r.data.signals.forEach(function (s) {
      const li = H.el("li", s.withdrawn ? "withdrawn" : s.certainty, null);
      li.dataset.signal = s.signal;
      li.appendChild(H.el("strong", "", H.code("reason", s.signal)));
      li.appendChild(H.el("span", "muted", " · " + (s.withdrawn
        ? T("floor.withdrawn", {reason: T("floor.withdraw_" + s.withdrawn.reason)})
        : T("floor.certainty_" + s.certainty))));
      li.appendChild(H.el("div", "terms", s.terms.length
        ? s.terms.map(term).join(" · ") : T("floor.terms_none")));
      if (!s.withdrawn && open) li.appendChild(withdrawForm(s, r.data.withdraw_reasons));
      list.appendChild(li);
    });
    if (!r.data.signals.length) list.appendChild(H.el("li", "muted", T("floor.signals_none")));
  }

  load();
  return {load: load};
})();
