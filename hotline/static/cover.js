// The roster and lead pages' warning: languages and channels with waiting cases and nobody on
// shift who serves them, now and in the next hours (GET /api/v1/roster/cover). Hidden while
// everything is covered; the pages call Cover.load() when the queue or the roster moves.
"use strict";
window.Cover = (function () {
  const H = window.Hotline;
  const T = window.T;
  const box = document.getElementById("cover");
  if (!box) return {load: function () {}};
  const list = box.querySelector("ul");
  const lang = document.documentElement.lang || undefined;

  function when(iso) {
    return new Date(iso).toLocaleString(lang, {weekday: "short", hour: "2-digit",
                                               minute: "2-digit"});
  }

  function line(g, hours, at) {
    const v = {language: H.code("lang", g.language), channel: H.code("channel", g.channel),
               waiting: g.waiting, hours: hours,
               start: when(g.from), until: g.until ? when(g.until) : ""};
    const now = g.from === at;
    if (now) return T(g.until ? "floor.cover_now" : "floor.cover_now_open", v);
    return T(g.until ? "floor.cover_later" : "floor.cover_later_open", v);
  }

  const load = H.coalesce(async function () {
    const r = await H.get("/api/v1/roster/cover");
    if (!r.ok) return;
    list.innerHTML = "";
    r.data.gaps.forEach(function (g) {
      list.appendChild(H.el("li", "warning", line(g, r.data.hours, r.data.at)));
    });
    box.hidden = r.data.gaps.length === 0;
  });
  load();
  // The hours ahead move on while nothing happens: look again every minute.
  setInterval(load, 60000);
  // The pages call this on every queued, assigned and closed event: in a surge, back to back
  // (each read counts every waiting case and every counselor's skills). At most every 3 s,
  // as the lead page reads its floor.
  return {load: H.throttle(load, 3000)};
})();
