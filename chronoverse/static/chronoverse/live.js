// The page's one WebSocket (/ws/dashboard/, session cookie): everything live reaches the page
// through it, and the page re-reads what it may have missed each time it (re)connects.
//
// For scripts (notifications.js, job-log.js):
//   window.chronoverseLive.send(object)  -> true if sent (the socket is open)
//   window.chronoverseLive.formatTime(iso, {seconds}) -> the time in the user's zone, zone shown
//   document events: "chronoverse:ready"   detail {reconnected: bool}  the socket is live (again)
//                    "chronoverse:message" detail = the message (see docs/dashboard-socket.md)
//                    "chronoverse:refreshed" detail {ids: [...]}     live regions were re-rendered
//                    "chronoverse:offline"  detail {code}            the socket closed (it reconnects)
//
// Live regions (stable ids and data attributes, for people and for the browser tests):
//   [data-live-region][id]    re-rendered from the page's own URL (filters and page kept), at most
//                             about once a second, when a message of a type in data-live-on arrives
//                             (job, workflow, schedule, workflow_deleted, ping, notification); with
//                             data-live-workflow="<id>", only for messages about that workflow.
//                             Every region is re-rendered after a reconnect (catching up).
//   Regions: #workflow-rows (workflow list), #home-workflows and #home-runs (home), #run-rows
//   (runs), #notification-rows (notifications, first page), #workflow-head, #workflow-chain,
//   #workflow-pings, #workflow-jobs, #workflow-definition, #workflow-build (workflow page).
//   #build-output[data-generation][data-lines]  build output; "build" messages append their lines.
//   #live-state[data-state="connecting|live|offline"] (added at the end of <body>): socket state.
//   Rows carry data-workflow-id / data-job-id / data-notification-id; badges data-badge="state|build".
//   The job page's log (#job-log etc.) is described at the top of job-log.js; the bell's menu
//   and toasts (#bell-menu, #toasts) at the top of notifications.js.
(function () {
  "use strict";
  if (!document.getElementById("toasts")) return; // signed out: nothing is live

  var ZONE = (document.body && document.body.dataset.timezone) || Intl.DateTimeFormat().resolvedOptions().timeZone;
  var formatters = {};

  function formatTime(iso, options) {
    if (!iso) return "—";
    var date = new Date(iso);
    if (isNaN(date.getTime())) return String(iso);
    var seconds = !options || options.seconds !== false;
    var key = seconds ? "s" : "m";
    if (!formatters[key]) {
      var spec = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" };
      if (seconds) spec.second = "2-digit";
      try {
        formatters[key] = new Intl.DateTimeFormat("en-CA", Object.assign({ timeZone: ZONE }, spec));
      } catch (e) { // an unknown zone: the browser's own
        formatters[key] = new Intl.DateTimeFormat("en-CA", spec);
      }
    }
    var parts = {};
    formatters[key].formatToParts(date).forEach(function (part) { parts[part.type] = part.value; });
    var time = parts.hour + ":" + parts.minute + (seconds ? ":" + parts.second : "");
    return parts.year + "-" + parts.month + "-" + parts.day + " " + time + " " + (parts.timeZoneName || ZONE);
  }

  // -- the socket ---------------------------------------------------------------------------------
  var socket = null;
  var opened = false; // once live, a later "ready" is a reconnect
  var delay = 1000;
  var indicator = document.createElement("span");
  indicator.id = "live-state";
  indicator.className = "live-state";
  indicator.setAttribute("role", "status");
  document.body.appendChild(indicator);

  function setState(state) {
    indicator.dataset.state = state;
    indicator.textContent = state === "offline" ? "Offline: reconnecting…" : "";
    indicator.hidden = state !== "offline";
  }

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  function connect() {
    setState("connecting");
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/dashboard/");
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "ready" || message.type === "resync") {
        delay = 1000;
        setState("live");
        var reconnected = opened || message.type === "resync";
        opened = true;
        // Whatever changed while the page had no socket (or before it had one) is read again.
        refreshAll();
        emit("chronoverse:ready", { reconnected: reconnected });
        return;
      }
      onMessage(message);
      emit("chronoverse:message", message);
    };
    socket.onclose = function (event) {
      socket = null;
      emit("chronoverse:offline", { code: event.code });
      if (event.code === 4401) { setState("offline"); indicator.textContent = "Signed out: reload the page"; return; }
      setState("offline");
      // Jittered and growing, so the tabs of a restarted server do not all come back at once.
      setTimeout(connect, delay * (0.75 + Math.random() / 2));
      delay = Math.min(delay * 2, 30000);
    };
  }

  function send(object) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(object));
    return true;
  }

  // -- live regions -------------------------------------------------------------------------------
  function workflowIds(message) {
    switch (message.type) {
      case "job": return [message.job.workflow_id];
      case "jobs": return message.workflow_ids;
      case "workflow": return [message.workflow.id];
      case "schedule": return message.workflows.map(function (w) { return w.id; });
      case "workflow_deleted": case "build": case "ping": return [message.workflow_id];
      case "notification": return [(message.notification.payload || {}).workflow_id];
      default: return [];
    }
  }

  function concerns(region, message) {
    var types = (region.dataset.liveOn || "").split(/\s+/);
    // A batch of jobs (a tick's dispatch, heartbeats completed together) is one "jobs" message.
    var type = message.type === "jobs" ? "job" : message.type;
    if (types.indexOf(type) === -1) return false;
    var only = region.dataset.liveWorkflow;
    return !only || workflowIds(message).indexOf(only) !== -1;
  }

  var dirty = {};
  var timer = null;
  var inFlight = false;
  var lastFetch = 0;
  var MIN_INTERVAL = 1000;

  function schedule(id) {
    dirty[id] = true;
    if (timer || inFlight) return;
    timer = setTimeout(refresh, Math.max(0, lastFetch + MIN_INTERVAL - Date.now()));
  }

  function refreshAll() {
    var regions = document.querySelectorAll("[data-live-region][id]");
    for (var i = 0; i < regions.length; i++) schedule(regions[i].id);
  }

  function busy(region) {
    // Someone typing in a field of the region keeps it until they are done.
    var active = document.activeElement;
    return active && region.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }

  function refresh() {
    timer = null;
    var ids = Object.keys(dirty);
    if (!ids.length) return;
    dirty = {};
    inFlight = true;
    lastFetch = Date.now();
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html", "X-Live-Refresh": "1" } })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var done = [];
        ids.forEach(function (id) {
          var region = document.getElementById(id);
          var replacement = fresh.getElementById(id);
          if (!region || !replacement) return;
          if (busy(region)) { dirty[id] = true; return; }
          region.replaceWith(document.importNode(replacement, true));
          done.push(id);
        });
        if (done.length) emit("chronoverse:refreshed", { ids: done });
      })
      .catch(function () { ids.forEach(function (id) { dirty[id] = true; }); })
      .then(function () {
        inFlight = false;
        if (Object.keys(dirty).length && !timer) timer = setTimeout(refresh, MIN_INTERVAL);
      });
  }

  // -- build output -------------------------------------------------------------------------------
  function onBuild(message) {
    var output = document.getElementById("build-output");
    var region = document.getElementById("workflow-build");
    if (!output || !region || region.dataset.liveWorkflow !== message.workflow_id) return;
    var shown = parseInt(output.dataset.lines, 10) || 0;
    if (String(message.build.generation) !== output.dataset.generation || message.offset > shown) {
      schedule("workflow-build"); // a new build, or lines this page never saw: read it again
      return;
    }
    var lines = message.lines.slice(shown - message.offset);
    if (!lines.length) return;
    var follow = output.scrollHeight - output.scrollTop - output.clientHeight < 32;
    if (shown === 0) output.textContent = "";
    output.appendChild(document.createTextNode((shown ? "\n" : "") + lines.join("\n")));
    output.dataset.lines = String(shown + lines.length);
    if (follow) output.scrollTop = output.scrollHeight;
  }

  function onMessage(message) {
    if (message.type === "build") onBuild(message);
    var regions = document.querySelectorAll("[data-live-region][id]");
    for (var i = 0; i < regions.length; i++) {
      if (concerns(regions[i], message)) schedule(regions[i].id);
    }
  }

  window.chronoverseLive = { send: send, formatTime: formatTime, zone: ZONE };
  connect();
})();
