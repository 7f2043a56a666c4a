// The takedown staff's floor: their alerts (each linking to a read-only view of the case),
// kept live by the console event stream. No queue: they do not take victims' chats here.
"use strict";
(function () {
  const H = window.Hotline;
  const refreshAlerts = H.alertsPanel(document.getElementById("alerts"), true);
  H.events({alert: refreshAlerts, "alert.acked": refreshAlerts, reset: refreshAlerts},
           document.getElementById("live"), refreshAlerts);
  setInterval(function () { H.post("/api/v1/presence/heartbeat"); }, 15000);
  refreshAlerts();
})();
