// Quick exit for the victim's pages: the red button, or Esc pressed twice within a moment.
// One Esc never leaves: it is pressed by accident while typing (and Korean input methods use
// it to cancel a syllable), and one Esc mid-sentence once ended a chat for good. Two presses
// work anywhere, also in the message box, where someone is when a person comes near.
"use strict";
(function () {
  const root = document.querySelector("[data-exit]");
  const exitUrl = root.dataset.exit;
  const WITHIN_MS = 1000;
  let lastEsc = 0;
  let left = false;

  function leave(ev) {
    if (ev) ev.preventDefault();
    if (left) return;
    left = true;
    try {
      // The page says what to end on the server (the chat session, the case page).
      if (typeof window.hotlineBeforeExit === "function") window.hotlineBeforeExit();
    } catch (e) { /* leaving matters more than tidying up */ }
    document.title = "";
    document.body.innerHTML = "";
    window.location.replace(exitUrl);
  }

  if (root.id === "case-page") {
    window.hotlineBeforeExit = function () { navigator.sendBeacon("/chat/case/leave"); };
  }
  document.getElementById("quick-exit").addEventListener("click", leave);
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape" || ev.isComposing) return;
    const now = Date.now();
    if (now - lastEsc <= WITHIN_MS) leave(ev);
    else lastEsc = now;
  });
  window.hotlineQuickExit = leave;
})();
