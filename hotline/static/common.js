// Shared by the console pages: the page's words (T), JSON requests with the CSRF token, small
// DOM helpers, plain words for codes, clocks, the live event stream, the alerts panel and the
// offers bar (offers are visible and answerable on every page).
"use strict";

// The console's words in this page's language (prompts/<lang>/console/*.toml, embedded by
// base.html): T("common.logout"), T("common.request_failed", {status: 500}).
window.T = (function () {
  const node = document.getElementById("words");
  let words = {};
  try { words = JSON.parse(node ? node.textContent : "{}"); } catch (e) { words = {}; }
  function T(key, values) {
    const text = words[key];
    if (text === undefined) {
      console.error("console word missing: " + key);
      return key;
    }
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return values && values[name] !== undefined ? String(values[name]) : all;
    });
  }
  T.has = function (key) { return words[key] !== undefined; };
  return T;
})();

window.Hotline = (function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";
  const lang = document.documentElement.lang;

  // A code in words: T(prefix + code) when the catalogue has it, else the code with spaces.
  function code(prefix, value) {
    const key = "codes." + prefix + "_" + value;
    return T.has(key) ? T(key) : String(value).replace(/_/g, " ");
  }

  // A triage reason ("minor", "possible:content_spreading") in words.
  function reason(r) {
    const s = String(r);
    if (s.indexOf("possible:") === 0) {
      return T("codes.reason_possible", {reason: code("reason", s.slice(9))});
    }
    return code("reason", s);
  }

  function reasons(list) { return (list || []).map(reason).join(", "); }

  // Why something could not be done (a routing reason code), in words.
  function words(c) {
    return T.has("codes.why_" + c) ? T("codes.why_" + c) : String(c || T("common.something_wrong"));
  }

  function slug(text) {
    return String(text).toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  }

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

  // The error of a failed request, as a sentence: the reason code or the error in words when
  // the catalogue has them, else the server's own words with the status.
  function failure(res) {
    const d = res.data || {};
    if (d.reason && T.has("codes.why_" + d.reason)) return words(d.reason);
    if (d.error) {
      const key = "codes.err_" + slug(d.error);
      if (T.has(key)) return T(key);
      if (T.has("codes.why_" + d.error)) return words(d.error);
      return T("common.request_failed_detail", {status: res.status, error: d.error});
    }
    return T("common.request_failed", {status: res.status});
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

  // Run `fn` now, or once more right after the run in progress (a burst of events needs one
  // reload, not one per event).
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

  // --- Clocks -------------------------------------------------------------------------------
  let skewMs = 0;  // server clock minus this page's clock, from a response's Date header

  function learnSkew(res) {
    const server = Date.parse(res.date || "");
    // The Date header has whole seconds: +500 ms halves the error.
    if (!isNaN(server)) skewMs = server + 500 - Date.now();
  }

  function serverNow() { return Date.now() + skewMs; }

  function minSec(s) {
    s = Math.max(0, Math.floor(s));
    return T("floor.minutes_seconds", {m: Math.floor(s / 60), s: s % 60});
  }

  function duration(s) {
    const m = Math.max(0, Math.floor(s / 60));
    return m < 60 ? T("case.duration_minutes", {n: m})
      : T("case.duration_hours", {h: Math.floor(m / 60), m: m % 60});
  }

  function ago(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const m = Math.floor(s / 60);
    return s < 60 ? T("case.ago_seconds", {n: s}) : m < 60 ? T("case.ago_minutes", {n: m})
      : T("case.ago_hours", {h: Math.floor(m / 60), m: m % 60});
  }

  // An element that keeps saying how long ago `iso` was (the clocks' tick), alone or as the
  // {ago} of `key`'s words with `args`: an alert's age must not freeze at "7 s ago".
  function agoEl(iso, cls, key, args) {
    const e = el("span", cls);
    e.dataset.sinceMs = String(Date.parse(iso));
    e.dataset.clock = "ago";
    if (key) {
      e.dataset.clockKey = key;
      e.dataset.clockArgs = JSON.stringify(args || {});
    }
    showClock(e);
    return e;
  }

  function time(iso) {
    return new Date(iso).toLocaleTimeString(lang, {hour: "2-digit", minute: "2-digit"});
  }

  // Elements with data-since-ms (a server time) show the time since, every second: the wait
  // clocks never freeze between events.
  function showClock(e) {
    const s = (serverNow() - Number(e.dataset.sinceMs)) / 1000;
    if (e.dataset.clock === "ago") {
      e.textContent = e.dataset.clockKey
        ? T(e.dataset.clockKey, Object.assign(JSON.parse(e.dataset.clockArgs), {ago: ago(s)}))
        : ago(s);
    } else {
      e.textContent = e.dataset.clock === "minutes"
        ? T(e.dataset.clockKey || "case.duration_minutes", {n: Math.max(0, Math.floor(s / 60))})
        : minSec(s);
    }
  }

  function tickClocks() {
    document.querySelectorAll("[data-since-ms]").forEach(showClock);
  }
  setInterval(tickClocks, 1000);

  // A clock element counting from `ms` (server time).
  function clockEl(ms, tag) {
    const e = el(tag || "span", "clock");
    e.dataset.sinceMs = String(ms);
    showClock(e);
    return e;
  }

  // --- The event stream ----------------------------------------------------------------------
  const extra = {};  // handlers added by the offers bar, run alongside the page's

  // The console event stream: `handlers` maps event types to functions of the parsed event.
  function events(handlers, liveEl, onOpen) {
    const types = new Set(Object.keys(handlers).concat(Object.keys(extra)));
    types.delete("open");  // the stream's own, not an event type
    // Only the kinds this page listens for: on a busy floor most events are victims'
    // messages, which the lead's page has no use for (the server adds "reset").
    const source = new EventSource("/api/v1/events?types=" +
                                   encodeURIComponent(Array.from(types).sort().join(",")));
    types.forEach(function (t) {
      source.addEventListener(t, function (ev) {
        let data = {};
        try { data = JSON.parse(ev.data); } catch (e) { data = {}; }
        if (handlers[t]) handlers[t](data, t);
        (extra[t] || []).forEach(function (h) { h(data, t); });
      });
    });
    source.onopen = function () {
      if (liveEl) liveEl.textContent = T("common.live");
      if (onOpen) onOpen();
      (extra.open || []).forEach(function (h) { h(); });
    };
    source.onerror = function () {
      if (liveEl) liveEl.textContent = T("common.reconnecting");
      // A session ended elsewhere (logout, deactivation, a new password): back to the login.
      get("/api/v1/me");
    };
    return source;
  }

  function also(type, fn) { (extra[type] = extra[type] || []).push(fn); }

  // --- Alerts ----------------------------------------------------------------------------
  // The alerts panel: open alerts this person may see, grouped by case and kind (one line per
  // case and kind, with each reason); acknowledged ones show who acknowledged them. Hidden while
  // there are none. `linkCases`: whether to link the case (leads, admins, takedown staff).
  function alertsPanel(section, linkCases) {
    const list = section.querySelector("ul");
    const status = section.querySelector("[role=status]");
    let known = null;
    async function refresh() {
      // The first 20 open ones: a lead's page also holds the floor below them.
      const res = await get("/api/v1/alerts?limit=20");
      if (!res.ok) return 0;
      learnSkew(res);
      const alerts = res.data.alerts;
      const fresh = known === null ? new Set() : new Set(alerts.map(function (a) { return a.id; })
        .filter(function (id) { return !known.has(id); }));
      known = new Set(alerts.map(function (a) { return a.id; }));
      const groups = [];
      const byKey = {};
      alerts.forEach(function (a) {
        const k = a.conversation + "/" + a.kind;
        if (!byKey[k]) { byKey[k] = {conversation: a.conversation, kind: a.kind, alerts: []}; groups.push(byKey[k]); }
        byKey[k].alerts.push(a);
      });
      list.innerHTML = "";
      groups.forEach(function (g) {
        const isFresh = g.alerts.some(function (a) { return fresh.has(a.id) && a.acked_at === null; });
        const li = el("li", "alert kind-" + g.kind + (isFresh ? " fresh" : ""));
        li.dataset.case = g.conversation;
        li.dataset.kind = g.kind;
        li.appendChild(el("strong", "", code("alert", g.kind)));
        const cid = g.conversation.slice(0, 8);
        if (linkCases) {
          const link = el("a", "", T("alerts.open_case", {case: cid}));
          link.href = "/console/cases/" + g.conversation;
          li.appendChild(link);
        } else {
          li.appendChild(el("span", "case", T("alerts.case", {case: cid})));
        }
        const ul = el("ul", "alert-items");
        g.alerts.forEach(function (a) {
          const item = el("li", "alert-item");
          item.dataset.alert = a.id;
          const why = (a.reasons || []).map(function (r) {
            return g.kind === "lead" ? code("alert", r) : reason(r);
          }).join(", ") || "—";
          item.appendChild(el("span", "", why));
          item.appendChild(agoEl(a.created_at, "muted"));
          if (a.step) item.appendChild(el("span", "muted", T("alerts.escalated", {n: a.step})));
          if (a.acked_at === null) {
            item.appendChild(button(T("alerts.acknowledge"), async function () {
              const r = await post("/api/v1/alerts/" + a.id + "/ack");
              status.textContent = r.ok ? "" : failure(r);
              refresh();
            }));
          } else {
            item.classList.add("acked");
            item.appendChild(a.acked_by_name || a.acked_by !== null
              ? agoEl(a.acked_at, "acked-by", "alerts.acked_by",
                      {who: a.acked_by_name || "#" + a.acked_by})
              : el("span", "acked-by", T("alerts.resolved", {
                  why: T.has("alerts.resolved_" + a.acked_via)
                    ? T("alerts.resolved_" + a.acked_via) : String(a.acked_via)})));
          }
          ul.appendChild(item);
        });
        li.appendChild(ul);
        list.appendChild(li);
      });
      const open = alerts.filter(function (a) { return a.acked_at === null; }).length;
      // The panel holds the first open alerts only: the rest are counted by what they are.
      let more = section.querySelector(".alerts-more");
      if (!more) {
        more = el("p", "alerts-more");
        list.after(more);
      }
      more.hidden = res.data.open <= open;
      more.textContent = more.hidden ? "" : T("alerts.more", {
        shown: open, open: res.data.open.toLocaleString(lang),
        counts: res.data.counts.map(function (c) {
          const what = c.reasons.map(function (r) {
            return c.kind === "lead" ? code("alert", r) : reason(r);
          }).join(", ") || code("alert", c.kind);
          return T("alerts.more_item", {what: what, n: c.n.toLocaleString(lang)});
        }).join(", ")});
      section.hidden = alerts.length === 0 && !section.dataset.alwaysShown;
      section.classList.toggle("all-acked", open === 0);
      const empty = section.querySelector(".alerts-empty");
      if (empty) empty.hidden = open > 0;
      return open;
    }
    // Called on every alert event: in a surge of "spreading now" reports, back to back. At
    // most once a second (an alert shows at most a second late).
    return throttle(refresh, 1000);
  }

  // --- The offers bar ------------------------------------------------------------------------
  // Offers for me on every page, each with its countdown, Accept and Decline; an opt-in sound
  // and desktop notification for new ones; a notice when a lead gives me a case.
  function offersBar() {
    const bar = document.getElementById("offers");
    if (!bar) return;
    const list = document.getElementById("offers-list");
    const result = document.getElementById("offer-result");
    const empty = document.getElementById("offers-empty");
    const notify = document.getElementById("offer-notify");
    const notices = document.getElementById("notices");
    const me = Number(bar.dataset.me);
    const baseTitle = document.title;
    let offers = [];
    let seen = null;

    function countdown(o) {
      if (!o.deadline_ms) return "";
      const left = Math.ceil((o.deadline_ms - serverNow()) / 1000);
      return left > 0 ? T("floor.seconds_left", {n: left}) : T("floor.expiring");
    }

    setInterval(function () {
      list.querySelectorAll("li").forEach(function (li, i) {
        if (offers[i]) li.querySelector(".countdown").textContent = countdown(offers[i]);
      });
    }, 1000);

    async function answer(o, action) {
      const r = await post("/api/v1/offers/" + o.id + "/" + action);
      if (r.ok && action === "accept") { window.location = "/console/cases/" + o.id; return; }
      result.textContent = r.ok ? "" : failure(r);
      refresh();
    }

    function beep() {
      try {
        const ctx = new (window.AudioContext || window.webkitAudioContext)();
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = 880;
        gain.gain.value = 0.2;
        osc.connect(gain);
        gain.connect(ctx.destination);
        osc.start();
        osc.stop(ctx.currentTime + 0.4);
        bar.dataset.sounded = String(Number(bar.dataset.sounded || 0) + 1);
      } catch (e) { /* no audio device: the notification and the title still tell */ }
    }

    function announce(o) {
      if (!notify.checked) return;
      beep();
      if ("Notification" in window && Notification.permission === "granted") {
        const n = new Notification(T("floor.notify_title"), {
          body: T("floor.notify_body", {urgency: code("urgency", o.urgency),
                                        channel: code("channel", o.channel),
                                        language: code("lang", o.language)}),
          tag: "offer-" + o.id});
        n.onclick = function () { window.focus(); };
        bar.dataset.notified = String(Number(bar.dataset.notified || 0) + 1);
      }
    }

    notify.checked = window.localStorage.getItem("hl-offer-notify") === "1";
    notify.addEventListener("change", async function () {
      window.localStorage.setItem("hl-offer-notify", notify.checked ? "1" : "0");
      if (notify.checked && "Notification" in window && Notification.permission === "default") {
        await Notification.requestPermission();
      }
      if (notify.checked && (!("Notification" in window) || Notification.permission === "denied")) {
        result.textContent = T("floor.notify_blocked");
      }
    });

    async function load() {
      const r = await get("/api/v1/offers/mine");
      if (!r.ok) return;
      learnSkew(r);
      offers = r.data.offers;
      const fresh = offers.filter(function (o) { return seen !== null && !seen.has(o.id); });
      seen = new Set(offers.map(function (o) { return o.id; }));
      list.innerHTML = "";
      offers.forEach(function (o) {
        const li = el("li", "offer urgency-" + o.urgency +
                      (fresh.indexOf(o) >= 0 ? " fresh" : ""));
        li.dataset.case = o.id;
        li.appendChild(el("strong", "", o.id.slice(0, 8)));
        li.appendChild(el("span", "", T("floor.offer_line", {
          channel: code("channel", o.channel), language: code("lang", o.language),
          urgency: code("urgency", o.urgency)})));
        if (o.reasons && o.reasons.length) li.appendChild(el("span", "reasons", reasons(o.reasons)));
        li.appendChild(el("span", "countdown", countdown(o)));
        li.appendChild(button(T("floor.accept"), function () { answer(o, "accept"); }, "primary"));
        li.appendChild(button(T("floor.decline"), function () { answer(o, "decline"); }));
        list.appendChild(li);
      });
      fresh.forEach(announce);
      document.getElementById("offer-count").textContent = offers.length;
      empty.hidden = offers.length > 0;
      bar.classList.toggle("has-offers", offers.length > 0);
      document.title = offers.length
        ? T("floor.new_offer_title", {n: offers.length, title: baseTitle}) : baseTitle;
    }
    const refresh = coalesce(load);

    // A case a lead gave me (not one I took or accepted myself).
    function given(e) {
      if (e.counselor !== me || !e.reason || e.previous === me) return;
      const li = el("li", "notice");
      li.appendChild(el("span", "", T("floor.assigned_to_you", {case: String(e.conversation).slice(0, 8)})));
      const a = el("a", "", T("floor.open_case"));
      a.href = "/console/cases/" + e.conversation;
      li.appendChild(a);
      li.appendChild(button(T("floor.dismiss"), function () { li.remove(); }));
      notices.appendChild(li);
    }

    ["offered", "offer.expired", "offer.declined", "reset", "open"].forEach(function (t) {
      also(t, refresh);
    });
    also("assigned", function (e) { refresh(); given(e); });
    refresh();
    return refresh;
  }

  // The header's language switch: saved for this person, then the page in that language.
  document.querySelectorAll(".lang-switch button[data-lang]").forEach(function (b) {
    b.addEventListener("click", async function () {
      const r = await post("/api/v1/me/language", {language: b.dataset.lang});
      if (r.ok) window.location.reload();
      else window.alert(T("common.language_failed"));
    });
  });

  const refreshOffers = offersBar();

  return {csrf: csrf, lang: lang, T: window.T, code: code, reason: reason, reasons: reasons,
          words: words, get: get, post: post, send: send, failure: failure, el: el,
          button: button, coalesce: coalesce, throttle: throttle, events: events,
          agoEl: agoEl, time: time,
          minSec: minSec, duration: duration, clockEl: clockEl, learnSkew: learnSkew,
          serverNow: serverNow, alertsPanel: alertsPanel, refreshOffers: refreshOffers};
})();
