/* Leitstand status page, optional: the page works the same without it.
   - shows times in the reader's own time zone (the server writes the site's);
   - refreshes the page content every 60 s without a reload, unless the reader is
     working inside it (keyboard focus in the content) or the tab is hidden. */
(function () {
  "use strict";

  var lang = document.documentElement.lang || undefined;
  var format;
  try {
    format = new Intl.DateTimeFormat(lang, {
      year: "numeric", month: "short", day: "numeric",
      hour: "numeric", minute: "2-digit", timeZoneName: "short"
    });
  } catch (e) {
    format = null;
  }

  function localize(root) {
    if (!format) return;
    var times = root.querySelectorAll("time.local[datetime]");
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) continue;
      if (!el.title) el.title = el.textContent;  // the site's time stays one hover away
      el.textContent = format.format(when);
    }
    var note = root.querySelector(".times-note[data-local]");
    if (note) note.textContent = note.getAttribute("data-local");
  }

  var etag = null;

  function busy(main) {
    var active = document.activeElement;
    return active && active !== main && main.contains(active);
  }

  function refresh() {
    var main = document.getElementById("main");
    if (!main || document.hidden || busy(main) || !window.fetch) return;
    fetch(location.href, { credentials: "same-origin", cache: "no-cache" })
      .then(function (response) {
        if (!response.ok) return null;
        var tag = response.headers.get("ETag");
        if (tag && tag === etag) return null;
        etag = tag;
        return response.text();
      })
      .then(function (html) {
        if (!html || busy(main)) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main");
        if (!fresh) return;
        localize(fresh);
        main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes).map(
          function (node) { return document.importNode(node, true); }));
        var icon = doc.querySelector("link[rel=icon]");
        var current = document.querySelector("link[rel=icon]");
        if (icon && current) current.setAttribute("href", icon.getAttribute("href"));
        document.title = doc.title;
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }

  localize(document);
  window.setInterval(refresh, 60000);
})();
