// Sigurna console: progressive enhancement only; every page works without this file.
// Counts down due times (<time data-countdown>) in the page's language, and warns before an
// idle session ends.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(lang, { numeric: "auto" }) : null;

  function describe(ms) {
    if (!relative) { return null; }
    var minutes = Math.round(ms / 60000);
    if (Math.abs(minutes) < 60) { return relative.format(minutes, "minute"); }
    var hours = Math.round(minutes / 60);
    if (Math.abs(hours) < 48) { return relative.format(hours, "hour"); }
    return relative.format(Math.round(hours / 24), "day");
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (isNaN(at)) { return; }
      if (!el.dataset.absolute) { el.dataset.absolute = el.textContent; }
      var text = describe(at - now);
      if (text) { el.textContent = text + " (" + el.dataset.absolute + ")"; }
      el.classList.toggle("overdue", at < now);
    });
    var clock = document.getElementById("session-clock");
    if (clock) {
      var ends = Date.parse(clock.dataset.expires);
      var warning = clock.querySelector(".session-warning");
      if (warning && ends - now < 2 * 60000) { warning.hidden = false; }
      if (ends <= now) { window.location.assign(clock.dataset.login); }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 15000);
  });
})();
