// Live log of the job page: one WebSocket to /ws/jobs/<id>/logs/ (the session cookie
// authenticates it). The server replays the stored lines, then relays new ones, then sends "end".
// Log lines are the output of the user's program: they only ever go in through textContent.
(function () {
  "use strict";

  const panel = document.getElementById("job-log");
  if (!panel) return;
  const state = document.getElementById("job-log-state");
  const trimmedNote = document.getElementById("job-log-trimmed");
  const badge = document.getElementById("job-status");
  const FINISHED = ["COMPLETED", "FAILED", "CANCELED"];
  // A browser slows down with hundreds of thousands of nodes; the downloads hold the whole log.
  const MAX_LINES = 5000;
  // Close codes of jobs/consumers.py: retrying cannot help with these.
  const FATAL = { 4401: "not signed in: reload the page", 4404: "job not found" };

  let lastSequence = 0; // a reconnect replays from the start: skip what is already shown
  let ended = false;
  let retries = 0;
  let pending = [];
  let frameRequested = false;

  const placeholder = line("Waiting for output…", "placeholder");
  panel.appendChild(placeholder);

  function line(text, kind, timestamp) {
    const row = document.createElement("span");
    row.className = "line " + kind;
    if (timestamp) {
      const time = document.createElement("span");
      time.className = "ts";
      time.textContent = timestamp.slice(11, 19) + " ";
      row.appendChild(time);
    }
    row.appendChild(document.createTextNode(text));
    return row;
  }

  function nearBottom() {
    return panel.scrollHeight - panel.scrollTop - panel.clientHeight < 32;
  }

  // Lines arrive in bursts (the replay sends up to a thousand at once): add them once per frame.
  function flush() {
    frameRequested = false;
    // Follow the tail unless the reader has scrolled up to look at something.
    const follow = nearBottom();
    const fragment = document.createDocumentFragment();
    for (const row of pending) fragment.appendChild(row);
    pending = [];
    placeholder.remove();
    panel.appendChild(fragment);
    let extra = panel.childElementCount - MAX_LINES;
    if (extra > 0) {
      trimmedNote.hidden = false;
      while (extra-- > 0) panel.firstElementChild.remove();
    }
    if (follow) panel.scrollTop = panel.scrollHeight;
  }

  function append(row) {
    pending.push(row);
    if (!frameRequested) {
      frameRequested = true;
      requestAnimationFrame(flush);
    }
  }

  function setState(text, kind) {
    state.textContent = text;
    state.className = "log-state " + (kind || "muted");
  }

  // Same formats as the template renders, so a refreshed field looks like a server-rendered one.
  function formatField(name, value) {
    if (value === null || value === undefined || value === "") return "—";
    if (name.endsWith("_at")) return value.slice(0, 10) + " " + value.slice(11, 19) + " UTC";
    if (name === "duration_seconds") return value.toFixed(2) + " s";
    return String(value);
  }

  function showJob(job) {
    badge.textContent = job.status;
    badge.className = "badge job-" + job.status.toLowerCase();
    for (const field of document.querySelectorAll("[data-job-field]")) {
      const name = field.dataset.jobField;
      if (name in job) field.textContent = formatField(name, job[name]);
    }
    const error = document.querySelector('[data-job-field="error"]');
    if (error) error.classList.toggle("has-error", Boolean(job.error));
    if (FINISHED.includes(job.status)) {
      const cancel = document.getElementById("job-cancel");
      if (cancel) cancel.remove();
    }
  }

  function onMessage(message) {
    const { event, data } = JSON.parse(message.data);
    if (event === "log") {
      if (data.sequence <= lastSequence) return;
      lastSequence = data.sequence;
      append(line(data.message, data.stream === "stderr" ? "stderr" : "stdout", data.timestamp));
    } else if (event === "status") {
      showJob(data);
    } else if (event === "end") {
      ended = true;
      showJob(data);
      if (lastSequence === 0) append(line("(no output)", "note"));
      append(line("— job finished: " + data.status + " —", "note end"));
      setState("finished", "muted");
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + panel.dataset.wsPath);
    socket.onopen = function () {
      retries = 0;
      setState("● live", "live");
    };
    socket.onmessage = onMessage;
    socket.onclose = function (close) {
      if (ended) return;
      if (close.code in FATAL) {
        setState(FATAL[close.code], "error");
        return;
      }
      // A server restart or a network blip: come back with a growing delay, without duplicates.
      const delay = Math.min(30000, 1000 * 2 ** retries++);
      setState("disconnected, retrying…", "error");
      setTimeout(connect, delay);
    };
  }

  connect();
})();
