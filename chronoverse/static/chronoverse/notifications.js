// Live notifications for every dashboard page: one WebSocket, the bell's count, a toast each.
//
// A notification published while no socket is open (the page was navigating, e.g. the redirect
// after creating a workflow, or the server was restarting) only reaches the database. So each time
// the socket opens, the count is taken from the server and unread notifications of the last few
// seconds that this tab has not shown yet get their toast after all.
(function () {
  "use strict";
  var count = document.getElementById("unread-count");
  var toasts = document.getElementById("toasts");
  if (!count || !toasts) return;
  var delay = 1000;
  var MAX_TOASTS = 5;
  var CATCH_UP_MS = 15000;
  var SEEN_KEY = "chronoverse:toasted";
  var preference = toasts.getAttribute("data-preference") || "ALL";
  // The server's clock minus ours, from the time the page was rendered (seconds; 0 if unknown).
  var serverNow = parseInt(toasts.getAttribute("data-now"), 10);
  var skew = serverNow ? serverNow * 1000 - Date.now() : 0;
  var shownHere = {};

  function isAlert(kind) {
    return /FAILED|TERMINATED|ALERT/.test(kind || "");
  }

  function pushed(kind) {
    // What the server pushes live for this preference (see notifications.services.should_push_live).
    return preference === "ALL" || (preference === "ALERTS" && isAlert(kind));
  }

  function label(kind) {
    return String(kind || "").toLowerCase().replace(/_/g, " ").replace(/^\w/, function (c) { return c.toUpperCase(); });
  }

  function seen() {
    try { return JSON.parse(sessionStorage.getItem(SEEN_KEY) || "[]"); } catch (e) { return []; }
  }

  function remember(id) {
    if (!id) return;
    try {
      var ids = seen().filter(function (other) { return other !== id; });
      ids.push(id);
      sessionStorage.setItem(SEEN_KEY, JSON.stringify(ids.slice(-50)));
    } catch (e) { /* storage off: duplicates are possible, nothing worse */ }
  }

  function setCount(n) {
    count.textContent = String(n);
    count.classList.toggle("zero", n <= 0);
    var bell = count.parentNode;
    if (bell && bell.hasAttribute("aria-label")) bell.setAttribute("aria-label", "Notifications" + (n > 0 ? " (" + n + " unread)" : ""));
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; });
  }

  function toast(message) {
    if (message.id) shownHere[message.id] = true;
    // Counted as shown for the tab only once it has been on screen a moment: a toast that arrives
    // just as the page unloads (the POST before a redirect) is shown again by the next page.
    setTimeout(function () { remember(message.id); }, 1500);
    var box = document.createElement("div");
    box.className = "toast" + (isAlert(message.kind) ? " alert" : "");
    box.setAttribute("role", isAlert(message.kind) ? "alert" : "status");
    var title = document.createElement("strong");
    title.textContent = label(message.kind);
    box.appendChild(title);
    var payload = message.payload || {};
    var detail = String(payload.workflow_name || payload.message || "");
    if (payload.error) detail += (detail ? ": " : "") + String(payload.error);
    if (detail.length > 300) detail = detail.slice(0, 299) + "…";
    if (detail) {
      var text = document.createElement("div");
      text.textContent = detail;
      box.appendChild(text);
    }
    toasts.appendChild(box);
    while (toasts.children.length > MAX_TOASTS) toasts.removeChild(toasts.firstChild);
    setTimeout(function () { box.remove(); }, 6000);
  }

  function catchUp() {
    getJSON("/api/v1/notifications/unread-count")
      .then(function (body) { if (body && typeof body.count === "number") setCount(body.count); })
      .catch(function () {});
    getJSON("/api/v1/notifications?unread=true&limit=" + MAX_TOASTS)
      .then(function (body) {
        if (!body || !body.notifications) return;
        var shown = seen();
        var now = Date.now() + skew;
        body.notifications.slice().reverse().forEach(function (message) {
          var age = now - Date.parse(message.created_at);
          var fresh = !shownHere[message.id] && shown.indexOf(message.id) === -1;
          if (age < CATCH_UP_MS && fresh && pushed(message.kind)) toast(message);
        });
      })
      .catch(function () {});
  }

  function open() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/notifications/");
    socket.onopen = function () {
      delay = 1000;
      catchUp();
    };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.id && shownHere[message.id]) return; // already shown by catchUp()
      setCount((parseInt(count.textContent, 10) || 0) + 1);
      toast(message);
      document.dispatchEvent(new CustomEvent("chronoverse:notification", { detail: message }));
    };
    socket.onclose = function (event) {
      if (event.code === 4401) return; // logged out: nothing to follow
      // Jittered, so the tabs of a restarted server do not all come back in the same instant.
      setTimeout(open, delay * (0.75 + Math.random() / 2));
      delay = Math.min(delay * 2, 30000);
    };
  }
  open();
})();
