// Anonymous web chat: POST to send, server-sent events + state fetch to receive.
// Nothing is kept in localStorage; the chat lives in an HttpOnly session cookie only.
"use strict";
(function () {
  const root = document.getElementById("chat");
  const T = JSON.parse(document.getElementById("texts").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const lang = root.dataset.lang;
  const exitUrl = root.dataset.exit;
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

  function quickExit(ev) {
    if (ev) ev.preventDefault();
    try {
      const body = new FormData();
      body.append("csrf", csrf);
      navigator.sendBeacon("/chat/api/exit", body);
    } catch (e) { /* leaving matters more than forgetting */ }
    if (source) source.close();
    document.title = "";
    document.body.innerHTML = "";
    window.location.replace(exitUrl);
  }
  document.getElementById("quick-exit").addEventListener("click", quickExit);
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") quickExit(ev); });

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
    li.textContent = m.text === null ? "…" : m.text;
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
    if (!r.ok) throw new Error(T.chat_error_send);
  }

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (text.length > maxChars) { showError(T.chat_error_too_long); return; }
    // The same client id on a retry makes the server store the message once.
    pending = pending && pending.text === text ? pending
      : {text: text, client_id: (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random())};
    const wasNew = state === "none" || state === "closed";
    try {
      await send(pending);
      pending = null;
      input.value = "";
      showError("");
      if (wasNew) listen(); // a new conversation: follow its events
      await refresh();
    } catch (e) {
      showError(e.message || T.chat_error_send);
    }
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
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
      cbId = cbId || (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
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
