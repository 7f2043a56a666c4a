// A person picker for the roster's forms: the lead types part of a name or #number and
// chooses from the matches (GET /api/v1/roster/people, 20 at a time), never from a list of
// every account. The chosen id goes into the form's hidden counselor_id; typing again clears
// it, so a form never sends someone the lead did not choose. An ARIA combobox: arrows move,
// Enter chooses (the only match, or the one moved to), Escape closes. Korean is searched as
// it is composed; Enter while composing only ends the composition.
"use strict";
window.PersonPicker = (function () {
  const H = window.Hotline;
  const LIMIT = 20;

  function label(p) {
    return T("roster.person", {name: p.name, id: p.id, role: T("common.role_" + p.role)});
  }

  // Shifts and extra time apply only to those who follow the roster: said before choosing.
  function described(p) {
    return label(p) + (p.rostered ? "" : " · " + T("roster.pick_not_rostered"));
  }

  return function attach(box) {
    const input = box.querySelector("input[role=combobox]");
    const hidden = box.querySelector("input[type=hidden]");
    const list = box.querySelector("[role=listbox]");
    const hint = box.querySelector(".picker-hint");
    let found = [];
    let active = -1;
    let asked = 0;
    let chosen = null;
    let emptyFor = null;  // the text the last answer found nobody for

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(i) {
      active = i;
      Array.prototype.forEach.call(list.children, function (li, n) {
        li.setAttribute("aria-selected", n === i ? "true" : "false");
      });
      if (i < 0) { input.removeAttribute("aria-activedescendant"); return; }
      input.setAttribute("aria-activedescendant", list.children[i].id);
      list.children[i].scrollIntoView({block: "nearest"});
    }

    function choose(p) {
      chosen = p;
      hidden.value = String(p.id);
      input.value = label(p);
      hint.textContent = T("roster.pick_chosen", {who: described(p)});
      close();
    }

    function draw(r, q) {
      found = r.data.people;
      list.innerHTML = "";
      found.forEach(function (p, n) {
        const li = H.el("li", "", described(p));
        li.id = input.id + "-option-" + n;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.staff = p.id;
        li.addEventListener("click", function () { choose(p); input.focus(); });
        list.appendChild(li);
      });
      emptyFor = found.length ? null : q;
      const total = r.data.total;
      hint.textContent = !found.length ? T("roster.pick_none", {q: q})
        : total > found.length ? T("roster.pick_narrow", {shown: found.length, total: total})
        : T("roster.pick_found", {n: found.length});
      list.hidden = !found.length;
      input.setAttribute("aria-expanded", found.length ? "true" : "false");
      highlight(-1);
    }

    async function search() {
      const q = input.value.trim();
      const mine = ++asked;
      if (!q) {
        found = [];
        list.innerHTML = "";
        close();
        hint.textContent = T("roster.pick_hint");
        return;
      }
      const r = await H.get("/api/v1/roster/people?limit=" + LIMIT + "&q=" +
                            encodeURIComponent(q));
      if (mine !== asked || chosen) return;  // a later search, or a choice, came first
      if (!r.ok) { close(); hint.textContent = H.failure(r); return; }
      draw(r, q);
    }

    // Each keystroke asks at once (20 rows, a few ms); an answer overtaken by a later one is
    // dropped, so the list always matches what is typed.
    input.addEventListener("input", function () {
      chosen = null;
      hidden.value = "";
      search();
    });

    input.addEventListener("keydown", function (ev) {
      if (ev.isComposing || ev.keyCode === 229) return;
      const open = !list.hidden && found.length > 0;
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        if (!open) {
          if (found.length) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
          return;
        }
        const step = ev.key === "ArrowDown" ? 1 : -1;
        highlight(active < 0 ? (step > 0 ? 0 : found.length - 1)
          : (active + step + found.length) % found.length);
      } else if (ev.key === "Enter" && open) {
        ev.preventDefault();
        if (active >= 0) choose(found[active]);
        else if (found.length === 1) choose(found[0]);
      } else if (ev.key === "Escape" && open) {
        ev.preventDefault();
        close();
      }
    });
    input.addEventListener("blur", close);
    // Keeps the focus in the input while an option is clicked.
    list.addEventListener("mousedown", function (ev) { ev.preventDefault(); });
    hint.textContent = T("roster.pick_hint");

    return {
      label: function () { return chosen ? label(chosen) : ""; },
      // Why the form cannot be sent yet (nobody chosen), or null.
      problem: function () {
        if (chosen) return null;
        const q = input.value.trim();
        input.focus();
        return q && q === emptyFor ? T("roster.pick_none", {q: q}) : T("roster.pick_choose");
      },
    };
  };
})();
