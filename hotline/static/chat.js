// Anonymous web chat: POST to send, server-sent events + state fetch to receive.
// Nothing is kept in localStorage; the chat lives in an HttpOnly session cookie only.
"use strict";
(function () {
  const root = document.getElementById("chat");
  const T = JSON.parse(document.getElementById("texts").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const lang = root.dataset.lang;
  const maxChars = parseInt(root.dataset.max, 10);
  const list = document.getElementById("messages");
  const status = document.getElementById("status");
  const errorBox = document.getElementById("error");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  let lastSeq = 0;
  let state = "none";
  let source = null;
  let refreshing = null;
  let pending = null; // {text, client_id} of a send not yet acknowledged

  // Quick exit (exit.js: the button, or Esc twice) ends the chat session on the server too.
  window.hotlineBeforeExit = function () {
    try {
      const body = new FormData();
      body.append("csrf", csrf);
      navigator.sendBeacon("/chat/api/exit", body);
    } catch (e) { /* leaving matters more than forgetting */ }
    if (source) source.close();
  };

  function newId() {
    return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
  }

  async function post(path, payload) {
    return fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(payload),
    });
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  function setStatus(s, position, text) {
    state = s;
    if (s === "waiting" && text) {
      status.textContent = text;
    } else if (s === "waiting") {
      status.textContent = T.chat_waiting.replace("{position}", position || "…");
    } else if (s === "active") {
      status.textContent = T.chat_connected;
    } else if (s === "closed") {
      status.textContent = T.chat_closed;
    } else {
      status.textContent = T.chat_intro;
    }
    status.dataset.state = s;
  }

  function addMessage(m) {
    if (m.seq <= lastSeq) return;
    lastSeq = m.seq;
    const li = document.createElement("li");
    li.className = m.direction === "in" ? "mine" : "theirs";
    li.dataset.seq = m.seq;
    const body = document.createElement("span");
    body.className = "body";
    body.textContent = m.text === null ? "…" : m.text;
    li.appendChild(body);
    if (m.at) {
      const at = new Date(m.at);
      const time = document.createElement("time");
      time.dateTime = m.at;
      time.textContent = at.toLocaleTimeString(lang, {hour: "2-digit", minute: "2-digit"});
      li.appendChild(time);
    }
    list.appendChild(li);
    li.scrollIntoView({block: "end"});
  }

  async function refresh() {
    if (refreshing) return refreshing;
    refreshing = (async function () {
      try {
        const r = await fetch("/chat/api/state?after=" + lastSeq, {credentials: "same-origin"});
        if (!r.ok) return;
        const data = await r.json();
        if (data.state === "none" && lastSeq > 0) { lastSeq = 0; list.innerHTML = ""; }
        data.messages.forEach(addMessage);
        setStatus(data.state, data.position, data.status_text);
        showReferrals(data.referrals || []);
      } catch (e) {
        status.textContent = T.chat_reconnecting;
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  function listen() {
    if (source) source.close();
    source = new EventSource("/chat/api/events");
    source.onmessage = refresh;
    ["message", "queued", "assigned", "closed", "reset", "queue"].forEach(function (t) {
      source.addEventListener(t, refresh);
    });
    source.onopen = refresh;
    source.onerror = function () { status.textContent = T.chat_reconnecting; };
  }

  async function send(item) {
    const r = await fetch("/chat/api/messages", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify({text: item.text, client_id: item.client_id, language: lang}),
    });
    if (r.status === 413) throw new Error(T.chat_error_too_long);
    // Too many messages from here at once (or refused): calm words; the text stays in the box.
    if (r.status === 429) throw new Error(T.flood_calm);
    if (!r.ok) throw new Error(T.chat_error_send);
    return r.json();
  }

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (text.length > maxChars) { showError(T.chat_error_too_long); return; }
    // The same client id on a retry makes the server store the message once.
    pending = pending && pending.text === text ? pending
      : {text: text, client_id: newId()};
    const wasNew = state === "none" || state === "closed";
    try {
      const sent = await send(pending);
      pending = null;
      input.value = "";
      showError(sent.held ? T.flood_calm : "");
      if (wasNew) listen(); // a new conversation: follow its events
      await refresh();
    } catch (e) {
      showError(e.message || T.chat_error_send);
    }
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });

  // At close: the places that fit the victim's situation (the server picks them).
  const afterClose = document.getElementById("after-close");
  const refList = document.getElementById("referrals");
  function showReferrals(lines) {
    if (refList.childElementCount === lines.length) return;
    refList.innerHTML = "";
    lines.forEach(function (line) {
      const li = document.createElement("li");
      li.textContent = line;
      refList.appendChild(li);
    });
    afterClose.hidden = lines.length === 0;
  }

  // A case number and PIN, on request (shown once; the server keeps only the PIN's hash).
  const issued = document.getElementById("issued");
  document.getElementById("case-get").addEventListener("click", async function () {
    const r = await post("/chat/api/case", {language: lang});
    const body = await r.json().catch(function () { return {}; });
    issued.textContent = body.text || T.chat_error_send;
    issued.hidden = false;
    issued.scrollIntoView({block: "nearest"});
  });

  // Erasure, after a confirmation: everything goes but the anonymous count.
  const erase = document.getElementById("erase");
  document.getElementById("erase-no").addEventListener("click", function () { erase.open = false; });
  document.getElementById("erase-yes").addEventListener("click", async function () {
    const r = await post("/chat/api/erase", {confirm: true});
    if (!r.ok) { showError(T.chat_error_send); return; }
    if (source) source.close();
    list.innerHTML = "";
    lastSeq = 0;
    erase.open = false;
    issued.hidden = true;
    afterClose.hidden = true;
    status.textContent = T.chat_erased;
    status.dataset.state = "erased";
  });

  // Evidence: fingerprints computed here (SHA-256 and PDQ); the picture only if chosen.
  const evForm = document.getElementById("evidence-form");
  const evResult = document.getElementById("evidence-result");
  evForm.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const file = document.getElementById("ev-file").files[0];
    if (!file) return;
    evResult.hidden = false;
    try {
      const data = await file.arrayBuffer();
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
      const sha256 = Array.from(digest, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
      let pdq = null;
      try { pdq = await window.hotlinePdq.fromBlob(file); } catch (e) { pdq = null; }
      const r = await post("/chat/api/evidence", {
        client_id: newId(), sha256: sha256, mime: file.type || "application/octet-stream",
        size_bytes: file.size, pdq: pdq ? pdq.hash : null, pdq_quality: pdq ? pdq.quality : null,
        where: document.getElementById("ev-where").value});
      if (r.status === 409) { evResult.textContent = T.chat_evidence_first; return; }
      if (!r.ok) throw new Error("evidence");
      const body = await r.json();
      if (document.getElementById("ev-send-file").checked) {
        const up = await fetch("/chat/api/evidence/" + body.id + "/file", {
          method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/octet-stream", "X-CSRF-Token": csrf}, body: data});
        if (!up.ok) throw new Error("file");
      }
      evResult.textContent = T.chat_evidence_done.replace("{short}", sha256.slice(0, 8));
      evResult.dataset.sha256 = sha256;
      evResult.dataset.pdq = pdq ? pdq.hash : "";
      evForm.reset();
    } catch (e) {
      evResult.textContent = T.chat_evidence_failed;
    }
  });

  // Call-back request (present only when the phone channel is on).
  const cbForm = document.getElementById("callback-form");
  if (cbForm) {
    const cbResult = document.getElementById("callback-result");
    const cbError = document.getElementById("callback-error");
    let cbId = null;
    cbForm.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const data = new FormData(cbForm);
      // The same id on a retry: the server records the request once.
      cbId = cbId || newId();
      cbError.hidden = true;
      try {
        const r = await fetch("/chat/api/callback", {
          method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
          body: JSON.stringify({number: data.get("number"), window: data.get("window"),
                                leave_message: data.get("leave") === "yes",
                                client_id: cbId, language: lang}),
        });
        if (r.status === 400) { cbError.textContent = T.chat_callback_error_number; cbError.hidden = false; return; }
        if (!r.ok) throw new Error(T.chat_error_send);
        const body = await r.json();
        cbForm.hidden = true;
        cbResult.textContent = body.text;
        cbResult.hidden = false;
      } catch (e) {
        cbError.textContent = e.message || T.chat_error_send;
        cbError.hidden = false;
      }
    });
  }

  listen();
  refresh();
  // A safety net for proxies that drop event streams silently, and for a stream the server
  // refused (too many open at once): EventSource gives up after a refusal, so listen again.
  setInterval(function () {
    if (source && source.readyState === EventSource.CLOSED) listen();
    refresh();
  }, 15000);
})();
