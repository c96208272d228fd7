// Live notifications for every dashboard page: one WebSocket, the bell's count, a toast each.
(function () {
  "use strict";
  var count = document.getElementById("unread-count");
  var toasts = document.getElementById("toasts");
  if (!count || !toasts) return;
  var delay = 1000;

  function label(kind) {
    return kind.toLowerCase().replace(/_/g, " ").replace(/^\w/, function (c) { return c.toUpperCase(); });
  }

  function toast(message) {
    var box = document.createElement("div");
    box.className = "toast" + (/FAILED|TERMINATED|ALERT/.test(message.kind) ? " alert" : "");
    var title = document.createElement("strong");
    title.textContent = label(message.kind);
    box.appendChild(title);
    var payload = message.payload || {};
    var detail = payload.workflow_name || payload.message || "";
    if (payload.error) detail += (detail ? ": " : "") + payload.error;
    if (detail) {
      var text = document.createElement("div");
      text.textContent = detail;
      box.appendChild(text);
    }
    toasts.appendChild(box);
    setTimeout(function () { box.remove(); }, 6000);
  }

  function open() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/notifications/");
    socket.onopen = function () { delay = 1000; };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      var n = (parseInt(count.textContent, 10) || 0) + 1;
      count.textContent = String(n);
      count.classList.remove("zero");
      toast(message);
      document.dispatchEvent(new CustomEvent("chronoverse:notification", { detail: message }));
    };
    socket.onclose = function (event) {
      if (event.code === 4401) return; // logged out: nothing to follow
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  open();
})();
