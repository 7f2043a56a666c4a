// Shared by the console pages: the page's words (T), JSON requests with the CSRF token, small
// DOM helpers, plain words for routing codes, the live event stream and the alerts panel.
"use strict";

// The console's words in this page's language (prompts/<lang>/console/*.toml, embedded by
// base.html): T("common.logout"), T("common.request_failed", {status: 500}).
window.T = (function () {
  const node = document.getElementById("words");
  let words = {};
  try { words = JSON.parse(node ? node.textContent : "{}"); } catch (e) { words = {}; }
  return function T(key, values) {
    const text = words[key];
    if (text === undefined) {
      console.error("console word missing: " + key);
      return key;
    }
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return values && values[name] !== undefined ? String(values[name]) : all;
    });
  };
})();

window.Hotline = (function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  // Why something could not be done, in plain words (routing eligibility and 409 codes).
  const WHY = {
    shift: "You are not on shift",
    ending: "Your shift ends soon: no new cases",
    capacity: "You are at capacity",
    status: "Set yourself available first",
    empty: "Nothing waiting that you can take",
    absent: "Your console looks disconnected: reload the page",
    language: "You do not cover this case's language",
    channel: "You do not cover this case's channel",
    on_call: "You are on a voice call",
    gone: "This case is no longer waiting",
    same: "That counselor already holds this case",
    "offer no longer open": "This offer has expired or gone to someone else",
    "no longer waiting": "Someone else has taken this case",
  };

  function words(code) {
    return WHY[code] || String(code || "Something went wrong");
  }

  // "content_spreading" -> "content spreading"
  function label(code) { return String(code).replace(/_/g, " "); }

  async function parse(r) {
    let data = {};
    try { data = await r.json(); } catch (e) { data = {}; }
    if (r.status === 401) window.location = "/console/login";
    return {ok: r.ok, status: r.status, data: data, date: r.headers.get("Date")};
  }

  async function get(url) {
    return parse(await fetch(url, {credentials: "same-origin"}));
  }

  async function send(method, url, body) {
    return parse(await fetch(url, {
      method: method, credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf, "Content-Type": "application/json"},
      body: body === undefined ? undefined : JSON.stringify(body)}));
  }

  function post(url, body) { return send("POST", url, body || {}); }

  // The error of a failed request, as a sentence: the reason code in words when there is one.
  function failure(res) {
    const d = res.data || {};
    if (d.reason) return words(d.reason);
    if (d.error) return WHY[d.error] || d.error;
    return "Request failed (" + res.status + ")";
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function button(text, onClick, className) {
    const b = el("button", className, text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  // Run `fn` now, or once more right after the run in progress (no timers: page clocks may be
  // frozen in tests, and a burst of events needs one reload, not one per event).
  function coalesce(fn) {
    let running = null;
    let again = false;
    return async function run() {
      if (running) { again = true; return running; }
      running = (async function () {
        try {
          do { again = false; await fn(); } while (again);
        } finally { running = null; }
      })();
      return running;
    };
  }

  // `coalesce`, and at most once per `gapMs` while events keep coming (a surge sends hundreds
  // a second): a later call within the gap runs once when it ends. A clock that does not move
  // (tests freeze page time) never ends a gap, so there every call runs as with `coalesce`.
  function throttle(fn, gapMs) {
    const run = coalesce(fn);
    let last = -Infinity;
    let timer = null;
    return function () {
      const now = Date.now();
      if (now - last >= gapMs || now === last) { last = now; return run(); }
      if (!timer) {
        timer = setTimeout(function () { timer = null; last = Date.now(); run(); },
                           gapMs - (now - last));
      }
      return null;
    };
  }

  // The console event stream: `handlers` maps event types to functions of the parsed event.
  function events(handlers, liveEl, onOpen) {
    const source = new EventSource("/api/v1/events");
    Object.keys(handlers).forEach(function (t) {
      source.addEventListener(t, function (ev) {
        let data = {};
        try { data = JSON.parse(ev.data); } catch (e) { data = {}; }
        handlers[t](data, t);
      });
    });
    source.onopen = function () {
      if (liveEl) liveEl.textContent = "Live";
      if (onOpen) onOpen();
    };
    source.onerror = function () { if (liveEl) liveEl.textContent = "Reconnecting…"; };
    return source;
  }

  function since(iso) {
    const s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
    return s < 60 ? s + " s ago" : Math.floor(s / 60) + " min ago";
  }

  // The alerts panel: open alerts this person may acknowledge. Hidden while there are none.
  // `linkCases`: whether to link the case (only leads and admins may open any case).
  function alertsPanel(section, linkCases) {
    const list = section.querySelector("ul");
    const status = section.querySelector("[role=status]");
    let known = null;
    async function refresh() {
      const res = await get("/api/v1/alerts");
      if (!res.ok) return 0;
      const alerts = res.data.alerts;
      const fresh = known === null ? new Set() : new Set(alerts.map(function (a) { return a.id; })
        .filter(function (id) { return !known.has(id); }));
      known = new Set(alerts.map(function (a) { return a.id; }));
      list.innerHTML = "";
      alerts.forEach(function (a) {
        const li = el("li", "alert kind-" + a.kind + (fresh.has(a.id) ? " fresh" : ""));
        li.dataset.alert = a.id;
        li.appendChild(el("strong", "", a.kind === "takedown" ? "Takedown" : "Lead"));
        li.appendChild(el("span", "", a.reasons.map(label).join(", ") || "—"));
        const cid = a.conversation.slice(0, 8);
        if (linkCases) {
          const link = el("a", "", "case " + cid);
          link.href = "/console/cases/" + a.conversation;
          li.appendChild(link);
        } else {
          li.appendChild(el("span", "case", "case " + cid));
        }
        li.appendChild(el("span", "muted", since(a.created_at) +
                          (a.step ? " · escalated " + a.step + "×" : "")));
        li.appendChild(button("Acknowledge", async function () {
          const r = await post("/api/v1/alerts/" + a.id + "/ack");
          status.textContent = r.ok ? "" : failure(r);
          refresh();
        }));
        list.appendChild(li);
      });
      section.hidden = alerts.length === 0;
      return alerts.length;
    }
    return coalesce(refresh);
  }

  // The header's language switch: saved for this person, then the page in that language.
  document.querySelectorAll(".lang-switch button[data-lang]").forEach(function (b) {
    b.addEventListener("click", async function () {
      const r = await post("/api/v1/me/language", {language: b.dataset.lang});
      if (r.ok) window.location.reload();
      else window.alert(T("common.language_failed"));
    });
  });

  return {csrf: csrf, words: words, label: label, get: get, post: post, send: send,
          failure: failure, el: el, button: button, coalesce: coalesce, throttle: throttle,
          events: events,
          since: since, alertsPanel: alertsPanel};
})();
