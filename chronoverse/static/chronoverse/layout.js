// The layout's own behaviours, on every page (signed in or not): the phone-width menu, copy buttons
// and the browser's timezone. Loaded in <head> without `defer`, so it marks the page as scripted
// before the header is drawn (the menu then starts closed; without JavaScript it stays open).
(() => {
  document.documentElement.classList.add("js");

  // The browser's zone, for users who chose none in Settings: the server renders the next pages in
  // it (accounts/middleware.py). A cookie rather than a saved setting, so that "empty" keeps meaning
  // "whichever browser I am using" (a laptop taken to another zone follows it).
  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const current = document.cookie.split("; ").find((pair) => pair.startsWith("cv_tz="));
    // IANA names hold only letters, digits, "/", "_", "+" and "-": cookie-safe as they are.
    if (zone && /^[A-Za-z0-9/_+-]+$/.test(zone) && current !== `cv_tz=${zone}`) {
      const secure = location.protocol === "https:" ? "; Secure" : "";
      document.cookie = `cv_tz=${zone}; Path=/; Max-Age=31536000; SameSite=Lax${secure}`;
    }
  } catch (error) {
    // No Intl time zone support: pages stay in the server's default zone, which they name.
  }

  const copyText = (text) => {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain-HTTP pages (a LAN address) have no Clipboard API: the old selection-and-copy way.
    return new Promise((resolve, reject) => {
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "copy-buffer";
      document.body.append(area);
      area.select();
      const copied = document.execCommand("copy");
      area.remove();
      if (copied) resolve();
      else reject(new Error("copy refused"));
    });
  };

  // <button type="button" data-copy="text"> copies its text; data-copy-target="#id" the target's text.
  const copyButton = (label) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    button.setAttribute("aria-label", `Copy ${label}`);
    return button;
  };

  const onCopyClick = (event) => {
    const button = event.target.closest("button[data-copy], button[data-copy-target]");
    if (!button) return;
    let text = button.dataset.copy;
    if (!text && button.dataset.copyTarget) {
      const target = document.querySelector(button.dataset.copyTarget);
      text = target ? target.textContent.trim() : "";
    }
    if (!text) return;
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    copyText(text).then(
      () => { button.textContent = "Copied"; },
      () => { button.textContent = "Press Ctrl+C"; },
    ).finally(() => {
      setTimeout(() => { button.textContent = label; }, 1600);
    });
  };

  const setUpMenu = () => {
    const toggle = document.querySelector(".menu-toggle");
    const header = document.querySelector(".topbar");
    if (!toggle || !header) return;
    const setOpen = (open) => {
      toggle.setAttribute("aria-expanded", String(open));
      header.classList.toggle("open", open);
    };
    toggle.addEventListener("click", () => setOpen(toggle.getAttribute("aria-expanded") !== "true"));
    header.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && header.classList.contains("open")) {
        setOpen(false);
        toggle.focus();
      }
    });
    // Tapping outside the open menu closes it, as a menu would.
    document.addEventListener("click", (event) => {
      if (header.classList.contains("open") && !header.contains(event.target)) setOpen(false);
    });
  };

  const setUpCopy = () => {
    // Every value shown alone as code in a fields list (ids, image names, ping URLs: one word, no
    // spaces) gets a button; <code data-copyable> anywhere else too.
    const candidates = document.querySelectorAll("dl.fields dd > code:only-child, code[data-copyable]");
    for (const code of candidates) {
      if (!code.hasAttribute("data-copyable") && /\s/.test(code.textContent.trim())) continue;
      if (code.nextElementSibling && code.nextElementSibling.matches("button.copy")) continue;
      const dt = code.closest("dd") && code.closest("dd").previousElementSibling;
      const button = copyButton(dt ? dt.textContent.trim() : "value");
      button.dataset.copy = code.textContent.trim();
      code.after(" ", button);
    }
    document.addEventListener("click", onCopyClick);
  };

  document.addEventListener("DOMContentLoaded", () => {
    setUpMenu();
    setUpCopy();
  });
})();
