// Small behaviours of the dashboard's pages, kept out of the markup so that the Content Security
// Policy can forbid inline scripts.
(() => {
  // <form data-confirm="Question?" data-busy-label="Working…">: ask first, then show it is busy
  // (a cancel waits for the container to stop, which may take its grace period). Delegated from
  // the document: live regions (live.js) replace their forms, which must keep asking.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
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

  // The workflow form's kind: a Script is written in its own inputs, every other kind as JSON.
  const kind = document.getElementById("id_kind");
  if (kind && document.getElementById("id_script")) {
    const sync = () => {
      const script = kind.value === "script";
      document.getElementById("id_payload").closest(".field").hidden = script;
      document.getElementById("id_script").closest(".field").hidden = !script;
      document.getElementById("id_script_image").closest(".field").hidden = !script;
    };
    kind.addEventListener("change", sync);
    sync();
  }

  // The workflow form: only the input of the chosen timing is read on submit, so show just that one.
  const timing = document.getElementById("id_timing");
  if (timing) {
    const sync = () => {
      document.getElementById("id_interval").closest(".field").hidden = timing.value !== "interval";
      document.getElementById("id_schedule_value").closest(".field").hidden = timing.value === "interval";
    };
    timing.addEventListener("change", sync);
    sync();
  }
})();
