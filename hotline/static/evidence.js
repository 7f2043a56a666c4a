// The case page's evidence panel (console/_evidence.html): fingerprints of what the victim
// sent, a server-blurred preview of kept images, and an explicit, audited "Reveal" that fetches
// a one-time link to the original. The sharp image never loads unless a counselor asks.
"use strict";
(function () {
  const H = window.Hotline;
  const box = document.getElementById("evidence");
  if (!box) return;
  const id = box.dataset.case;
  const list = document.getElementById("evidence-list");
  const errorBox = document.getElementById("evidence-error");

  function showError(t) { errorBox.textContent = t; errorBox.hidden = !t; }

  function kb(n) { return n < 1024 * 1024 ? Math.round(n / 1024) + " KB" : (n / 1048576).toFixed(1) + " MB"; }

  function item(ev) {
    const li = H.el("li", "evidence-item");
    const where = ev.platform ? (T.has("intake.platform_" + ev.platform) ? T("intake.platform_" + ev.platform) : ev.platform) : T("evidence.no_platform");
    li.appendChild(H.el("div", "muted", ev.kind + " · " + ev.mime + " · " + kb(ev.size_bytes) +
      " · " + where + " · " + new Date(ev.created_at).toLocaleString(H.lang)));
    if (ev.location) li.appendChild(H.el("p", "note", ev.location));
    li.appendChild(H.el("code", "fingerprint", "SHA-256 " + ev.sha256));
    if (ev.pdq) {
      li.appendChild(H.el("code", "fingerprint", T("evidence.pdq", {pdq: ev.pdq, quality: ev.pdq_quality})));
    }
    (ev.matches || []).forEach(function (m) {
      li.appendChild(H.el("div", "match", T("evidence.same_image", {
        evidence: m.evidence, case: m.case, distance: m.distance})));
    });
    const consent = ev.consent === "kept"
      ? T("evidence.kept", {date: ev.purge_at ? new Date(ev.purge_at).toLocaleDateString(H.lang) : "?"})
      : T.has("evidence." + ev.consent) ? T("evidence." + ev.consent) : ev.consent;
    li.appendChild(H.el("div", "muted", consent));
    if (ev.image) {
      const img = H.el("img", "evidence-preview");
      img.alt = T("evidence.blurred_alt", {id: ev.id});
      img.src = "/api/v1/evidence/" + ev.id + "/preview";
      li.appendChild(img);
      li.appendChild(H.button(T("evidence.reveal"), async function (e) {
        e.target.disabled = true;
        const r = await H.post("/api/v1/evidence/" + ev.id + "/reveal");
        if (!r.ok) { showError(H.failure(r)); e.target.disabled = false; return; }
        img.src = r.data.url;
        img.alt = T("evidence.original_alt", {id: ev.id});
        e.target.textContent = T("evidence.revealed");
      }));
    } else if (ev.kept) {
      li.appendChild(H.button(T("evidence.download"), async function () {
        const r = await H.post("/api/v1/evidence/" + ev.id + "/reveal");
        if (!r.ok) { showError(H.failure(r)); return; }
        window.location = r.data.url;
      }));
    }
    return li;
  }

  const load = H.coalesce(async function () {
    const r = await H.get("/api/v1/cases/" + id + "/evidence");
    if (!r.ok) { if (r.status !== 404) showError(H.failure(r)); return; }
    showError("");
    list.innerHTML = "";
    r.data.evidence.forEach(function (ev) { list.appendChild(item(ev)); });
    box.hidden = r.data.evidence.length === 0;
  });

  H.events({evidence: function (ev) { if (ev.conversation === id) load(); }}, null, load);
  load();
})();
