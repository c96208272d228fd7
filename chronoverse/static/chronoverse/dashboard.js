// Small behaviours of the dashboard's pages, kept out of the markup so that the Content Security
// Policy can forbid inline scripts.
(() => {
  // <form data-confirm="Question?" data-busy-label="Working…">: ask first, then show it is busy
  // (a cancel waits for the container to stop, which may take its grace period).
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        return;
      }
      const button = form.querySelector("button[type=submit]");
      if (button && form.dataset.busyLabel) {
        button.disabled = true;
        button.textContent = form.dataset.busyLabel;
      }
    });
  }

  // The workflow page's ping log: taken again from the API every few seconds while the tab is shown,
  // so that a user watching their cron job call in sees each ping arrive.
  const pingLog = document.querySelector("tbody[data-pings-url]");
  if (pingLog) {
    const cell = (text, className) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (className) td.className = className;
      return td;
    };
    const row = (ping) => {
      const tr = document.createElement("tr");
      tr.append(cell(ping.received_at.slice(0, 19).replace("T", " "), "nowrap"), cell(ping.kind));
      tr.append(cell(ping.exit_status === null ? "—" : String(ping.exit_status)));
      const from = cell(`${ping.remote_addr} `);
      const agent = document.createElement("span");
      agent.className = "muted";
      agent.textContent = ping.user_agent.length > 40 ? `${ping.user_agent.slice(0, 39)}…` : ping.user_agent;
      from.append(agent);
      const job = cell(ping.job_id ? "" : "—");
      if (ping.job_id) {
        const link = document.createElement("a");
        link.href = pingLog.dataset.jobUrl.replace("00000000-0000-0000-0000-000000000000", ping.job_id);
        link.textContent = ping.job_id.slice(0, 8);
        job.append(link);
      }
      tr.append(from, job);
      return tr;
    };
    const refresh = () => {
      if (document.hidden) return;
      fetch(pingLog.dataset.pingsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((response) => (response.ok ? response.json() : null))
        .then((body) => {
          if (body && body.pings.length) pingLog.replaceChildren(...body.pings.map(row));
        })
        .catch(() => {}); // offline a moment: the next refresh catches up
    };
    setInterval(refresh, 5000);
  }
})();
