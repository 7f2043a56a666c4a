// The takedown desk's pages: each button or form calls the desk's JSON API, then the page
// shows the result (a new item or request opens; otherwise the page reloads). Errors name
// the field the server names. Times are shown in this browser's time zone.
"use strict";

(function () {
  const H0 = window.Hotline;
  // While this page's own action runs, it reloads or moves on by itself: an event about that
  // action must not reload the page under it.
  let busy = false;
  const H = Object.assign({}, H0, {post: async function (url, body) {
    busy = true;
    const res = await H0.post(url, body);
    if (!res.ok) busy = false;
    return res;
  }});

  function fail(box, res) {
    const d = res.data || {};
    const text = d.field ? T("takedown.error_field", {field: d.field, error: d.error})
      : (d.error || T("common.request_failed", {status: res.status}));
    if (box) box.textContent = text; else window.alert(text);
  }

  function errorBox(form) { return form.querySelector("[role=alert]"); }

  function value(form, name) {
    const e = form.elements.namedItem(name);
    return e ? e.value.trim() : "";
  }

  // <input type=datetime-local> holds local wall time: send it with this browser's offset.
  function withOffset(local) {
    if (!local) return undefined;
    const d = new Date(local);
    const off = -d.getTimezoneOffset();
    const pad = function (n) { return String(Math.floor(Math.abs(n))).padStart(2, "0"); };
    return local + (local.length === 16 ? ":00" : "") + (off >= 0 ? "+" : "-") +
      pad(off / 60) + ":" + pad(off % 60);
  }

  document.querySelectorAll("time[datetime]").forEach(function (t) {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) t.textContent = d.toLocaleString(document.documentElement.lang);
  });

  document.querySelectorAll("form.js-create-item").forEach(function (form) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const body = {kind: value(form, "kind"), platform: value(form, "platform"),
                    location: value(form, "location"),
                    minor: form.elements.namedItem("minor").checked};
      if (form.dataset.case) body.case_id = form.dataset.case;
      if (form.dataset.alert) body.alert_id = Number(form.dataset.alert);
      if (form.dataset.evidence) body.evidence_id = Number(form.dataset.evidence);
      const res = await H.post("/api/v1/takedown/items", body);
      if (res.ok) window.location = "/console/takedown/items/" + res.data.id;
      else fail(errorBox(form), res);
    });
  });

  document.querySelectorAll("button.js-ack, button.js-post").forEach(function (b) {
    b.addEventListener("click", async function () {
      const res = await H.post(b.dataset.url, b.dataset.body ? JSON.parse(b.dataset.body) : {});
      if (res.ok) window.location.reload(); else fail(null, res);
    });
  });

  document.querySelectorAll("form.js-consent").forEach(function (form) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const res = await H.post(form.dataset.url, {purpose: value(form, "purpose"),
        given: value(form, "given") === "true", via: value(form, "via")});
      if (res.ok) window.location.reload(); else fail(errorBox(form), res);
    });
  });

  document.querySelectorAll("form.js-location").forEach(function (form) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const res = await H.post(form.dataset.url, {platform: value(form, "platform"),
                                                  location: value(form, "location")});
      if (res.ok) window.location.reload(); else fail(errorBox(form), res);
    });
  });

  document.querySelectorAll("form.js-new-request").forEach(function (form) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const pick = value(form, "route").split(":");
      const body = {platform: pick[0], route: pick[1]};
      if (value(form, "language")) body.language = value(form, "language");
      const res = await H.post(form.dataset.url, body);
      if (res.ok) window.location = "/console/takedown/requests/" + res.data.id;
      else fail(errorBox(form), res);
    });
  });

  function fieldsBody(form) {
    const fields = {};
    // Only what staff changed: the rest keeps following the desk's details.
    form.querySelectorAll("textarea").forEach(function (ta) {
      if (ta.value !== ta.defaultValue) fields[ta.name] = ta.value;
    });
    const body = {fields: fields, language: value(form, "language")};
    if (form.elements.namedItem("address") && value(form, "address")) {
      body.address = value(form, "address");
    }
    return body;
  }

  document.querySelectorAll("form.js-fields").forEach(function (form) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const res = await H.post(form.dataset.url, fieldsBody(form));
      if (res.ok) window.location.reload(); else fail(errorBox(form), res);
    });
    const send = form.querySelector("button.js-send");
    if (send) {
      send.addEventListener("click", async function () {
        const saved = await H.post(form.dataset.url, fieldsBody(form));
        if (!saved.ok) { fail(errorBox(form), saved); return; }
        const res = await H.post(send.dataset.url, {});
        if (res.ok) window.location.reload(); else fail(errorBox(form), res);
      });
    }
  });

  document.querySelectorAll("form.js-steps").forEach(function (form) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const body = {step: ev.submitter ? ev.submitter.value : ""};
      const at = withOffset(value(form, "at"));
      if (at) body.at = at;
      if (value(form, "ticket")) body.ticket = value(form, "ticket");
      if (value(form, "reason")) body.reason = value(form, "reason");
      const res = await H.post(form.dataset.url, body);
      if (res.ok) window.location.reload(); else fail(errorBox(form), res);
    });
  });

  document.querySelectorAll("button.js-escalate").forEach(function (b) {
    b.addEventListener("click", async function () {
      const res = await H.post(b.dataset.url, {});
      if (res.ok) window.location = "/console/takedown/requests/" + res.data.id;
      else fail(b.parentNode.querySelector("[role=alert]"), res);
    });
  });

  const copy = document.getElementById("copy-text");
  if (copy) {
    copy.addEventListener("click", async function () {
      const text = document.getElementById("request-text").textContent;
      const result = document.getElementById("copy-result");
      try {
        await navigator.clipboard.writeText(text);
      } catch (e) {
        // No clipboard permission (plain http): select the text for Ctrl+C instead.
        const range = document.createRange();
        range.selectNodeContents(document.getElementById("request-text"));
        window.getSelection().removeAllRanges();
        window.getSelection().addRange(range);
        document.execCommand("copy");
      }
      result.textContent = T("takedown.copied");
    });
  }

  document.querySelectorAll("button.js-export").forEach(function (b) {
    b.addEventListener("click", async function () {
      const item = document.getElementById("takedown-item").dataset.item;
      const r = await fetch("/api/v1/takedown/items/" + item + "/export", {
        method: "POST", credentials: "same-origin",
        headers: {"X-CSRF-Token": H.csrf, "Content-Type": "application/json"},
        body: JSON.stringify({purpose: b.dataset.purpose})});
      const out = document.getElementById("export-result");
      if (!r.ok) {
        let data = {};
        try { data = await r.json(); } catch (e) { data = {}; }
        fail(out, {status: r.status, data: data});
        return;
      }
      const name = (r.headers.get("Content-Disposition") || "").split('"')[1] || "export.zip";
      const link = document.createElement("a");
      link.href = URL.createObjectURL(await r.blob());
      link.download = name;
      link.click();
      out.className = "ok";
      out.textContent = T("takedown.export_done", {name: name});
    });
  });

  // Another desk member's change (or the deadline job's): offer to show it rather than
  // reload under this person's hands.
  const live = document.getElementById("live");
  const changed = H0.button(T("takedown.changed"), function () {
    window.location.reload();
  });
  changed.id = "desk-changed";
  changed.hidden = true;
  live.after(changed);
  const reload = async function () { if (!busy) changed.hidden = false; };
  H.events({"takedown": reload, "takedown.alert": reload, "alert": reload,
            "alert.acked": reload}, live);
})();
