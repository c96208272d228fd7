// Notifications on every dashboard page: the bell's count and menu, and toasts. They come through
// the page's one socket (live.js): each notification message says whether the user's preference
// toasts and counts it (`toast`), and carries its humane title and line.
//
// Elements (stable ids for the browser tests):
//   #unread-count            the bell's count (what the preference counts: all, alerts, none)
//   a.bell[aria-expanded]    opens #bell-menu: the latest few (li[data-notification-id]), a
//                            "Mark all read" button (#bell-mark-all) and a link to all of them
//   #toasts                  at most 3 toasts (div.toast[data-group][data-count]); repeats of one
//                            kind for one workflow collapse into one toast whose count grows
//
// When the socket (re)connects, the count and the menu are read again (/notifications/bell/), and
// unread notifications of the last few seconds that this tab has not toasted yet get their toast:
// one published while no socket was open (the redirect after creating a workflow) is not lost.
(function () {
  "use strict";
  var count = document.getElementById("unread-count");
  var toasts = document.getElementById("toasts");
  if (!count || !toasts) return;
  var bell = count.closest("a") || count.parentNode;
  var MAX_TOASTS = 3;
  var TOAST_MS = 6000;
  var CATCH_UP_MS = 15000;
  var SEEN_KEY = "chronoverse:toasted";
  var BELL_URL = "/notifications/bell/";
  var READ_URL = "/notifications/read/";
  // The server's clock minus ours, from the time the page was rendered (seconds; 0 if unknown).
  var serverNow = parseInt(toasts.getAttribute("data-now"), 10);
  var skew = serverNow ? serverNow * 1000 - Date.now() : 0;
  var shownHere = {};
  var latest = [];

  function formatTime(iso) {
    return window.chronoverseLive ? window.chronoverseLive.formatTime(iso, { seconds: false }) : iso;
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
    n = Math.max(0, n);
    count.textContent = String(n);
    count.classList.toggle("zero", n <= 0);
    bell.setAttribute("aria-label", "Notifications" + (n > 0 ? " (" + n + " unread)" : ""));
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; });
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // -- toasts -------------------------------------------------------------------------------------
  function groupOf(item) {
    return item.kind + ":" + (item.workflow_id || item.id);
  }

  function dismiss(box) {
    clearTimeout(box._timer);
    box.remove();
  }

  function toast(item) {
    if (item.id) shownHere[item.id] = true;
    // Counted as shown for the tab only once it has been on screen a moment: a toast that arrives
    // just as the page unloads (the POST before a redirect) is shown again by the next page.
    setTimeout(function () { remember(item.id); }, 1500);
    var group = groupOf(item);
    var box = toasts.querySelector('.toast[data-group="' + CSS.escape(group) + '"]');
    if (box) {
      var times = (parseInt(box.dataset.count, 10) || 1) + 1;
      box.dataset.count = String(times);
      box.querySelector(".toast-count").textContent = "×" + times;
      box.querySelector(".toast-text").textContent = item.text || "";
      box.querySelector(".toast-time").textContent = formatTime(item.created_at);
      toasts.appendChild(box); // the newest group goes last (nearest the reader's eye)
    } else {
      box = document.createElement("div");
      box.className = "toast" + (item.alert ? " alert" : "");
      box.dataset.group = group;
      box.dataset.count = "1";
      box.setAttribute("role", item.alert ? "alert" : "status");
      var head = document.createElement("div");
      head.className = "toast-head";
      var title = document.createElement(item.url ? "a" : "strong");
      title.className = "toast-title";
      if (item.url) title.href = item.url;
      title.textContent = item.title;
      var counter = document.createElement("span");
      counter.className = "toast-count";
      var close = document.createElement("button");
      close.type = "button";
      close.className = "link toast-close";
      close.setAttribute("aria-label", "Dismiss");
      close.textContent = "×";
      close.addEventListener("click", function () { dismiss(box); });
      head.append(title, counter, close);
      var text = document.createElement("div");
      text.className = "toast-text";
      text.textContent = item.text || "";
      var time = document.createElement("div");
      time.className = "toast-time muted";
      time.textContent = formatTime(item.created_at);
      box.append(head, text, time);
      toasts.appendChild(box);
      // Over the limit, the oldest goes, an alert only when no other is left to go.
      while (toasts.children.length > MAX_TOASTS) {
        dismiss(toasts.querySelector(".toast:not(.alert)") || toasts.firstElementChild);
      }
    }
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { dismiss(box); }, TOAST_MS);
  }

  function itemOf(message) {
    // A socket message as the bell's items are shaped (see notifications.views._bell_item).
    var n = message.notification;
    var payload = n.payload || {};
    return {
      id: n.id,
      kind: n.kind,
      title: message.title,
      text: message.text,
      alert: /FAILED|TERMINATED|ALERT/.test(n.kind),
      workflow_id: payload.workflow_id,
      url: payload.job_id ? "/jobs/" + payload.job_id + "/" : payload.workflow_id ? "/workflows/" + payload.workflow_id + "/" : null,
      read: false,
      created_at: n.created_at,
    };
  }

  // -- the bell's menu ----------------------------------------------------------------------------
  var menu = document.createElement("div");
  menu.id = "bell-menu";
  menu.className = "bell-menu";
  menu.hidden = true;
  menu.setAttribute("role", "region");
  menu.setAttribute("aria-label", "Latest notifications");
  var menuHead = document.createElement("div");
  menuHead.className = "bell-menu-head";
  var menuTitle = document.createElement("strong");
  menuTitle.textContent = "Notifications";
  var markAll = document.createElement("button");
  markAll.type = "button";
  markAll.id = "bell-mark-all";
  markAll.className = "link";
  markAll.textContent = "Mark all read";
  menuHead.append(menuTitle, markAll);
  var list = document.createElement("ul");
  list.className = "bell-list";
  var footer = document.createElement("a");
  footer.className = "bell-all";
  footer.href = bell.getAttribute("href") || "/notifications/";
  footer.textContent = "All notifications";
  menu.append(menuHead, list, footer);
  bell.insertAdjacentElement("afterend", menu);
  bell.setAttribute("aria-expanded", "false");
  bell.setAttribute("aria-controls", "bell-menu");
  bell.setAttribute("role", "button");

  function renderMenu() {
    list.replaceChildren();
    if (!latest.length) {
      var empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = "Nothing yet.";
      list.appendChild(empty);
    }
    latest.forEach(function (item) {
      var li = document.createElement("li");
      li.dataset.notificationId = item.id;
      li.className = (item.read ? "read" : "unread") + (item.alert ? " alert" : "");
      var title = document.createElement(item.url ? "a" : "strong");
      if (item.url) title.href = item.url;
      title.textContent = item.title;
      var text = document.createElement("div");
      text.className = "bell-text";
      text.textContent = item.text || "";
      var time = document.createElement("div");
      time.className = "muted bell-time";
      time.textContent = formatTime(item.created_at);
      li.append(title, text, time);
      list.appendChild(li);
    });
  }

  function openMenu(open) {
    menu.hidden = !open;
    bell.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) renderMenu();
  }

  bell.addEventListener("click", function (event) {
    if (event.ctrlKey || event.metaKey || event.shiftKey) return; // a new tab: the list page
    event.preventDefault();
    openMenu(menu.hidden);
  });
  bell.addEventListener("keydown", function (event) {
    if (event.key === " ") { event.preventDefault(); openMenu(menu.hidden); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !menu.hidden) { openMenu(false); bell.focus(); }
  });
  document.addEventListener("click", function (event) {
    if (!menu.hidden && !menu.contains(event.target) && !bell.contains(event.target)) openMenu(false);
  });

  markAll.addEventListener("click", function () {
    var body = new FormData();
    body.append("all", "1");
    body.append("csrfmiddlewaretoken", csrfToken());
    markAll.disabled = true;
    fetch(READ_URL, { method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json", "X-CSRFToken": csrfToken() } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer) return;
        setCount(answer.count);
        latest.forEach(function (item) { item.read = true; });
        renderMenu();
      })
      .catch(function () {})
      .then(function () { markAll.disabled = false; });
  });

  // -- keeping up ---------------------------------------------------------------------------------
  function catchUp() {
    getJSON(BELL_URL).then(function (body) {
      if (!body) return;
      setCount(body.count);
      latest = body.notifications;
      if (!menu.hidden) renderMenu();
      if (body.preference === "NONE") return; // the menu still lists the latest; nothing toasts
      var shown = seen();
      var now = Date.now() + skew;
      latest.slice().reverse().forEach(function (item) {
        var fresh = !item.read && !shownHere[item.id] && shown.indexOf(item.id) === -1;
        if (fresh && now - Date.parse(item.created_at) < CATCH_UP_MS) toast(item);
      });
    }).catch(function () {});
  }

  document.addEventListener("chronoverse:ready", catchUp);
  document.addEventListener("chronoverse:message", function (event) {
    var message = event.detail;
    if (message.type !== "notification" || !message.toast) return;
    var item = itemOf(message);
    if (shownHere[item.id]) return; // already toasted by catchUp()
    setCount((parseInt(count.textContent, 10) || 0) + 1);
    latest = [item].concat(latest.filter(function (other) { return other.id !== item.id; })).slice(0, 5);
    if (!menu.hidden) renderMenu();
    toast(item);
  });
})();
