// The referral directory on the case page: the places that fit the case first; sending one
// writes it to the victim as the counselor's reply (docs/victim.md).
"use strict";
(function () {
  const H = window.Hotline;
  const id = document.getElementById("case").dataset.case;
  const select = document.getElementById("referral-code");
  const result = document.getElementById("referral-result");

  async function load() {
    const res = await H.get("/api/v1/cases/" + id + "/referrals");
    if (!res.ok) return;
    select.innerHTML = "";
    res.data.referrals.forEach(function (r) {
      const notes = [r.fits ? T("referrals.fits") : "", r.given ? T("referrals.given") : ""]
        .filter(Boolean).join(", ");
      const option = H.el("option", "", r.name + " " + r.phone + (notes ? " (" + notes + ")" : ""));
      option.value = r.code;
      select.appendChild(option);
    });
  }

  document.getElementById("referral-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const res = await H.post("/api/v1/cases/" + id + "/referrals", {code: select.value});
    result.hidden = false;
    result.textContent = res.ok
      ? T("referrals.sent", {name: select.selectedOptions[0].textContent}) : H.failure(res);
    if (res.ok) load();
  });
  load();
})();
