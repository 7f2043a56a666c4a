// The lead's ban list: the bans in force, banning a case's sender (the manage panel's form),
// a sender pseudonym or an address, and lifting a ban.
"use strict";
window.HotlineBans = (function () {
  const H = window.Hotline;
  const tbody = document.querySelector("#ban-list tbody");
  const result = document.getElementById("ban-result");
  const reasons = {};
  document.querySelectorAll("#ban-reason option").forEach(function (o) {
    reasons[o.value] = o.textContent;
  });

  function until(hours) {
    return new Date(Date.now() + Number(hours) * 3600 * 1000).toISOString();
  }

  function show(el, r) {
    el.textContent = r.ok ? T("bans.done") : H.failure(r);
    el.className = r.ok ? "ok" : "error";
  }

  function what(b) {
    return b.kind === "address" ? T("bans.address")
      : b.channel ? T("bans.sender_on", {channel: H.code("channel", b.channel)}) : T("bans.sender");
  }

  async function load() {
    const r = await H.get("/api/v1/bans");
    if (!r.ok) { show(result, r); return; }
    const names = r.data.names || {};
    tbody.innerHTML = "";
    r.data.bans.forEach(function (b) {
      const tr = document.createElement("tr");
      tr.dataset.ban = b.id;
      const cells = [what(b), reasons[b.reason] || H.code("ban", b.reason),
                     b.case ? b.case.slice(0, 8) : "", new Date(b.expires_at).toLocaleString(H.lang),
                     names[b.created_by] || (b.created_by === null ? "" : "#" + b.created_by)];
      cells.forEach(function (c) { tr.appendChild(H.el("td", "", c)); });
      const td = H.el("td", "", null);
      td.appendChild(H.button(T("bans.lift"), async function () {
        show(result, await H.send("DELETE", "/api/v1/bans/" + b.id));
        refresh();
      }));
      tr.appendChild(td);
      tbody.appendChild(tr);
    });
    document.getElementById("ban-count").textContent = r.data.bans.length;
    document.getElementById("bans-empty").hidden = r.data.bans.length > 0;
  }
  const refresh = H.coalesce(load);

  document.getElementById("ban-case").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const manage = document.getElementById("manage");
    const f = new FormData(ev.target);
    const r = await H.post("/api/v1/bans", {
      case: manage.dataset.case, scope: f.get("scope"), reason: f.get("reason"),
      expires_at: until(f.get("hours"))});
    show(document.getElementById("manage-result"), r);
    refresh();
  });

  document.getElementById("ban-other").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = {reason: f.get("reason"), expires_at: until(f.get("hours"))};
    body[f.get("kind")] = String(f.get("value")).trim();
    const r = await H.post("/api/v1/bans", body);
    show(result, r);
    if (r.ok) ev.target.reset();
    refresh();
  });

  refresh();
  return {refresh: refresh};
})();
