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
