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
})();
