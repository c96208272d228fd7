// The job page's log: the last lines first (GET #job-log[data-log-url], a dashboard read that pages
// both ways), then the new ones live through the page's one socket (live.js: {"type": "follow",
// "job_id", "after": last line seen}; after a reconnect it follows again from the last line seen,
// so nothing is shown twice or lost). Log lines are the output of the user's program: they only
// ever go in through text nodes.
//
// Elements (stable ids for the browser tests):
//   #job-log                 the lines: each a span.line[data-sequence][data-stream], time in span.ts,
//                            search matches in <mark>
//   #job-log-state           "● live" / "finished" / "disconnected, retrying…"
//   #job-log-stream          "" | "stdout" | "stderr"        #job-log-search  text to look for
//   #job-log-tools           the form of both (submit = search)  #job-log-clear   clears them
//   #job-log-summary         what is shown ("Lines 1–500 of the log", "12 lines match …")
//   #job-log-older / #job-log-newer  page back / forward     #job-log-tail  back to the live tail
//   #job-status, [data-job-field]    the job's status and fields, kept current by "job" messages
(function () {
  "use strict";

  var panel = document.getElementById("job-log");
  if (!panel) return;
  var live = window.chronoverseLive;
  var jobId = panel.dataset.jobId;
  var url = panel.dataset.logUrl;
  var state = document.getElementById("job-log-state");
  var summary = document.getElementById("job-log-summary");
  var streamInput = document.getElementById("job-log-stream");
  var searchInput = document.getElementById("job-log-search");
  var clearButton = document.getElementById("job-log-clear");
  var olderButton = document.getElementById("job-log-older");
  var newerButton = document.getElementById("job-log-newer");
  var tailButton = document.getElementById("job-log-tail");
  var badge = document.getElementById("job-status");
  var FINISHED = ["COMPLETED", "FAILED", "CANCELED"];
  // A browser slows down with hundreds of thousands of nodes: pages of the log are read as needed.
  var MAX_LINES = 3000;

  var filter = { stream: "", q: "" };
  var lastStored = 0; // the last line the page knows of, whatever the filter: where following resumes
  var atTail = true; // the window ends at the log's end: new lines are appended
  var moreBefore = false;
  var moreAfter = false;
  var missed = 0; // new lines not shown while the reader looks at an earlier page
  var finished = FINISHED.indexOf(panel.dataset.status) !== -1;
  var loaded = false;
  var generation = 0; // a newer read makes an older answer moot

  function setState(text, kind) {
    state.textContent = text;
    state.className = "log-state " + (kind || "muted");
  }

  function matches(line) {
    if (filter.stream && line.stream !== filter.stream) return false;
    return !filter.q || line.message.toLowerCase().indexOf(filter.q.toLowerCase()) !== -1;
  }

  function highlighted(text) {
    var fragment = document.createDocumentFragment();
    if (!filter.q) {
      fragment.appendChild(document.createTextNode(text));
      return fragment;
    }
    var lower = text.toLowerCase();
    var needle = filter.q.toLowerCase();
    var at = 0;
    var found;
    while ((found = lower.indexOf(needle, at)) !== -1) {
      if (found > at) fragment.appendChild(document.createTextNode(text.slice(at, found)));
      var mark = document.createElement("mark");
      mark.textContent = text.slice(found, found + needle.length);
      fragment.appendChild(mark);
      at = found + needle.length;
    }
    if (at < text.length) fragment.appendChild(document.createTextNode(text.slice(at)));
    return fragment;
  }

  function row(line) {
    var span = document.createElement("span");
    span.className = "line " + (line.stream === "stderr" ? "stderr" : "stdout");
    span.dataset.sequence = String(line.sequence);
    span.dataset.stream = line.stream;
    var time = document.createElement("span");
    time.className = "ts";
    time.title = live ? live.formatTime(line.timestamp) : line.timestamp;
    time.textContent = (live ? live.formatTime(line.timestamp) : line.timestamp).slice(11, 19) + " ";
    span.appendChild(time);
    span.appendChild(highlighted(line.message));
    return span;
  }

  function note(text) {
    var span = document.createElement("span");
    span.className = "line note";
    span.textContent = text;
    return span;
  }

  function lines() {
    return panel.querySelectorAll(".line[data-sequence]");
  }

  function firstShown() {
    var first = panel.querySelector(".line[data-sequence]");
    return first ? parseInt(first.dataset.sequence, 10) : null;
  }

  function lastShown() {
    var all = lines();
    return all.length ? parseInt(all[all.length - 1].dataset.sequence, 10) : null;
  }

  function describe() {
    var count = lines().length;
    var what = filter.q || filter.stream
      ? count + " line" + (count === 1 ? "" : "s") + " shown" +
        (filter.q ? " containing “" + filter.q + "”" : "") + (filter.stream ? " on " + filter.stream : "")
      : count ? "Lines " + firstShown() + "–" + lastShown() : "";
    if (!count && loaded) what = filter.q || filter.stream ? "No line matches." : finished ? "" : "Waiting for output…";
    summary.textContent = what + (atTail ? "" : " · an earlier part of the log");
    olderButton.hidden = !moreBefore;
    newerButton.hidden = atTail || !moreAfter;
    tailButton.hidden = atTail;
    tailButton.textContent = missed ? "Back to the live tail (" + missed + " new)" : "Back to the live tail";
    clearButton.hidden = !(filter.q || filter.stream);
    var empty = panel.querySelector(".note.empty");
    if (!count && finished && !filter.q && !filter.stream && !empty) {
      var none = note("(no output)");
      none.classList.add("empty");
      panel.appendChild(none);
    } else if (count && empty) {
      empty.remove();
    }
  }

  function nearBottom() {
    return panel.scrollHeight - panel.scrollTop - panel.clientHeight < 32;
  }

  function query(params) {
    var search = new URLSearchParams(params);
    if (filter.stream) search.set("stream", filter.stream);
    if (filter.q) search.set("q", filter.q);
    return fetch(url + "?" + search.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); });
  }

  function trim(fromTop) {
    var all = lines();
    var extra = all.length - MAX_LINES;
    for (var i = 0; i < extra; i++) all[fromTop ? i : all.length - 1 - i].remove();
    if (extra > 0) {
      if (fromTop) moreBefore = true;
      else { moreAfter = true; atTail = false; }
    }
  }

  // The last lines (with the filter), then following from the last line stored.
  function loadTail() {
    var mine = ++generation;
    setState("loading…", "muted");
    return query({}).then(function (body) {
      if (mine !== generation || !body.lines) return;
      panel.replaceChildren.apply(panel, body.lines.map(row));
      lastStored = Math.max(lastStored, body.last_sequence || 0);
      moreBefore = Boolean(body.more_before);
      moreAfter = false;
      atTail = true;
      missed = 0;
      loaded = true;
      showJob(body.job);
      panel.scrollTop = panel.scrollHeight;
      describe();
      follow();
    }).catch(function () { setState("could not read the log: retrying…", "error"); setTimeout(loadTail, 3000); });
  }

  function follow() {
    if (finished && atTail) { setState("finished", "muted"); }
    if (!loaded || !live) return;
    if (live.send({ type: "follow", job_id: jobId, after: lastStored })) {
      if (!finished) setState("● live", "live");
    } else if (!finished) {
      setState("disconnected, retrying…", "error");
    }
  }

  olderButton.addEventListener("click", function () {
    var before = firstShown();
    if (before === null) return;
    var mine = generation;
    olderButton.disabled = true;
    query({ before: before }).then(function (body) {
      if (mine !== generation || !body.lines) return;
      var height = panel.scrollHeight;
      var fragment = document.createDocumentFragment();
      body.lines.forEach(function (line) { fragment.appendChild(row(line)); });
      panel.insertBefore(fragment, panel.firstChild);
      moreBefore = Boolean(body.more_before);
      trim(false);
      panel.scrollTop += panel.scrollHeight - height; // the reader stays on the line they were reading
      describe();
    }).catch(function () {}).then(function () { olderButton.disabled = false; });
  });

  newerButton.addEventListener("click", function () {
    var after = lastShown();
    if (after === null) return;
    var mine = generation;
    newerButton.disabled = true;
    query({ after: after }).then(function (body) {
      if (mine !== generation || !body.lines) return;
      body.lines.forEach(function (line) { panel.appendChild(row(line)); });
      moreAfter = Boolean(body.more_after);
      if (!moreAfter) { loadTail(); return; } // caught up: live again
      trim(true);
      describe();
    }).catch(function () {}).then(function () { newerButton.disabled = false; });
  });

  tailButton.addEventListener("click", loadTail);

  document.getElementById("job-log-tools").addEventListener("submit", function (event) {
    event.preventDefault();
    filter = { stream: streamInput.value, q: searchInput.value.trim() };
    loadTail();
  });
  streamInput.addEventListener("change", function () {
    filter = { stream: streamInput.value, q: searchInput.value.trim() };
    loadTail();
  });
  clearButton.addEventListener("click", function () {
    streamInput.value = "";
    searchInput.value = "";
    filter = { stream: "", q: "" };
    loadTail();
  });

  // Same formats as the template renders, so a refreshed field looks like a server-rendered one.
  function formatField(name, value) {
    if (value === null || value === undefined || value === "") return "—";
    if (name.slice(-3) === "_at") return live ? live.formatTime(value) : value;
    if (name === "duration_seconds") return value.toFixed(2) + " s";
    return String(value);
  }

  function showJob(job) {
    if (!job || job.id !== jobId) return;
    badge.textContent = job.status;
    badge.className = "badge job-" + job.status.toLowerCase();
    panel.dataset.status = job.status;
    var fields = document.querySelectorAll("[data-job-field]");
    for (var i = 0; i < fields.length; i++) {
      var name = fields[i].dataset.jobField;
      if (name in job) fields[i].textContent = formatField(name, job[name]);
    }
    var error = document.querySelector('[data-job-field="error"]');
    if (error) error.classList.toggle("has-error", Boolean(job.error));
    if (FINISHED.indexOf(job.status) !== -1) {
      finished = true;
      var cancel = document.getElementById("job-cancel");
      if (cancel) cancel.remove();
      setState("finished", "muted");
      describe();
    }
  }

  function onLine(line) {
    if (line.sequence <= lastStored) return;
    lastStored = line.sequence;
    if (!matches(line)) return;
    if (!atTail) { missed++; describe(); return; }
    var follow = nearBottom();
    panel.appendChild(row(line));
    trim(true);
    if (follow) panel.scrollTop = panel.scrollHeight;
    describeSoon();
  }

  var describing = false;
  function describeSoon() {
    if (describing) return;
    describing = true;
    requestAnimationFrame(function () { describing = false; describe(); });
  }

  document.addEventListener("chronoverse:message", function (event) {
    var message = event.detail;
    if (message.type === "job") showJob(message.job);
    if (message.job_id !== jobId) return;
    if (message.type === "log") onLine(message.line);
    else if (message.type === "log_status") showJob(message.job);
    else if (message.type === "log_end") showJob(message.job);
    else if (message.type === "error" && message.code === "not_found") setState("job not found", "error");
  });

  document.addEventListener("chronoverse:ready", follow);
  document.addEventListener("chronoverse:offline", function () {
    if (!finished) setState("disconnected, retrying…", "error");
  });
  loadTail();
})();
