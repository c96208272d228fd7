/*
 * The workflow create and edit form (templates/workflows/form.html, workflows/forms.py).
 *
 * Structure, for readers and the browser tests:
 * - form#workflow-form[data-kind][data-preview-url]. Every input is Django's: named as in the
 *   docstring of workflows/forms.py, id "id_<name>", with a <label>; its block is #field-<name>,
 *   where its errors show (small.error; those of the live preview carry class "live").
 * - Blocks with data-show-when="<name>=<value>[,<value>...]" are shown only while the input <name>
 *   (a select, or the checked radio of a group) holds one of the values. The inputs of a hidden
 *   block are disabled, so the browser does not send them. On the edit page the kind is fixed:
 *   form.dataset.kind stands for the missing #id_kind.
 * - Kind: #id_kind = HEARTBEAT | CONTAINER | WEBHOOK | WEBSOCKET | script. Its inputs are prefixed
 *   hb_, ct_, wh_, ws_ (script: #id_script, #id_script_image); #kind-hint says what the kind does.
 * - Row editors: fieldset[data-rows=<editor>] (#field-<editor>) holds div.row-item rows in
 *   #<editor>-rows; a row's inputs are named <editor>_<column> (or just <editor> for a list such as
 *   ct_command) with ids id_<input name>_<n>; button#<editor>-add adds a row from
 *   template#<editor>-template, each row's button.remove-row removes it.
 * - Payload editor: radios named "editor" (#id_editor_0 Fields, #id_editor_1 JSON). While the
 *   fields are shown, the JSON textarea #id_payload follows them; typing valid JSON there fills the
 *   fields (#json-status says when it cannot). The server reads whichever view is chosen.
 * - Timing: #id_timing, its inputs (#id_interval, #id_cron, #id_rrule, #id_rec_*, #id_at,
 *   #id_after, #id_after_on), #id_timezone (with button#use-browser-zone) and, on the create page,
 *   #id_start_at and #id_end_at. Each change asks GET data-preview-url (the same input names) for
 *   the next five runs: `{valid, timezone, runs: [{at, local}], note, errors: {input: [...]}}`.
 *   section#schedule-preview lists them (ol#preview-runs, times in the chosen timezone, named in
 *   #preview-zone) with a note in #preview-note; errors go under their inputs.
 */
(() => {
  const form = document.getElementById("workflow-form");
  if (!form) return;

  const control = (name) => form.elements.namedItem(name);
  const valueOf = (name) => {
    const element = control(name);
    if (!element) return name === "kind" ? form.dataset.kind || "" : "";
    if (element instanceof RadioNodeList) return element.value;
    if (element.type === "checkbox") return element.checked ? element.value || "on" : "";
    return element.value;
  };
  const setValue = (name, value) => {
    const element = control(name);
    if (!element) return;
    if (element instanceof RadioNodeList) {
      for (const option of element) option.checked = option.value === value;
    } else if (element.type === "checkbox") {
      element.checked = Boolean(value);
    } else {
      element.value = value === undefined || value === null ? "" : String(value);
    }
  };
  const kind = () => valueOf("kind");

  // Blocks that follow an input; the inputs of hidden blocks are disabled, so they are not sent.
  const blocks = [...form.querySelectorAll("[data-show-when]")];
  const showBlocks = () => {
    for (const block of blocks) {
      const [name, values] = block.dataset.showWhen.split("=");
      block.hidden = !values.split(",").includes(valueOf(name));
    }
    for (const element of form.querySelectorAll("input, select, textarea")) {
      element.disabled = Boolean(element.closest("[data-show-when][hidden]"));
    }
  };

  // Row editors.
  const editors = new Map();
  for (const fieldset of form.querySelectorAll("[data-rows]")) {
    const name = fieldset.dataset.rows;
    const rows = document.getElementById(`${name}-rows`);
    const template = document.getElementById(`${name}-template`);
    const add = document.getElementById(`${name}-add`);
    const editor = { name, rows, template, add, counter: rows.children.length };
    editors.set(name, editor);
    add.hidden = false;
    add.addEventListener("click", () => {
      const row = addRow(editor);
      row.querySelector("input, textarea, select").focus();
      changed();
    });
    rows.addEventListener("click", (event) => {
      const button = event.target.closest("[data-remove-row]");
      if (!button) return;
      button.closest("[data-row]").remove();
      if (!rows.children.length) addRow(editor);
      renumber(editor);
      add.focus();
      changed();
    });
  }
  const addRow = (editor, values = []) => {
    const index = editor.counter++;
    const position = editor.rows.children.length + 1;
    const html = editor.template.innerHTML.replaceAll("__index__", index).replaceAll("__number__", position);
    const holder = document.createElement("div");
    holder.innerHTML = html.trim();
    const row = holder.firstElementChild;
    row.querySelectorAll("input, textarea, select").forEach((element, column) => {
      if (values[column] !== undefined) element.value = values[column];
    });
    editor.rows.append(row);
    return row;
  };
  const renumber = (editor) => {
    [...editor.rows.children].forEach((row, index) => {
      for (const label of row.querySelectorAll("label")) label.textContent = label.textContent.replace(/\d+$/, index + 1);
      const remove = row.querySelector("[data-remove-row]");
      remove.setAttribute("aria-label", remove.getAttribute("aria-label").replace(/\d+$/, index + 1));
    });
  };
  const readRows = (name) =>
    [...editors.get(name).rows.children].map((row) =>
      [...row.querySelectorAll("input, textarea, select")].map((element) => element.value),
    );
  const writeRows = (name, rows) => {
    const editor = editors.get(name);
    editor.rows.replaceChildren();
    for (const values of rows) addRow(editor, values);
    if (!rows.length) addRow(editor);
  };

  // The fields as the API's payload: what workflows/forms_payload.py builds from them on the server.
  const text = (name) => valueOf(name).trim();
  const number = (name, decimal = false) => {
    const raw = text(name);
    if (!raw) return undefined;
    const pattern = decimal ? /^-?\d+(\.\d+)?$/ : /^-?\d+$/;
    return pattern.test(raw) ? Number(raw) : raw; // left as typed: the server names the problem
  };
  const put = (payload, key, value) => {
    if (value !== undefined && value !== "") payload[key] = value;
  };
  const mapping = (name) => {
    const result = {};
    for (const [key, value] of readRows(name)) if (key.trim() || value) result[key.trim()] = value;
    return Object.keys(result).length ? result : undefined;
  };
  const items = (name) => {
    const list = readRows(name).map(([value]) => value);
    while (list.length && !list[list.length - 1]) list.pop();
    return list.length ? list : undefined;
  };
  const jsonOrText = (formatName, name) => {
    const format = valueOf(formatName) || "none";
    if (format === "none") return undefined;
    if (format === "text") return valueOf(name);
    try {
      return JSON.parse(valueOf(name));
    } catch {
      return valueOf(name);
    }
  };
  const choice = (name, fallback) => (valueOf(name) && valueOf(name) !== fallback ? valueOf(name) : undefined);

  const builders = {
    HEARTBEAT() {
      const mode = valueOf("hb_mode") || "tick";
      if (mode === "ping") {
        const ping = {};
        put(ping, "grace", number("hb_ping_grace"));
        return { ping };
      }
      if (mode !== "endpoint") return {};
      const payload = { endpoint: text("hb_endpoint") };
      put(payload, "method", choice("hb_method", "GET"));
      put(payload, "expected_status_code", number("hb_expected_status_code"));
      put(payload, "timeout", number("hb_timeout"));
      put(payload, "headers", mapping("hb_headers"));
      return payload;
    },
    CONTAINER() {
      const payload = {};
      if (valueOf("ct_source") === "dockerfile") {
        payload.dockerfile = valueOf("ct_dockerfile");
        put(payload, "files", mapping("ct_files"));
      } else {
        payload.image = text("ct_image");
      }
      put(payload, "command", items("ct_command"));
      put(payload, "args", items("ct_args"));
      put(payload, "env", mapping("ct_env"));
      put(payload, "working_dir", text("ct_working_dir"));
      put(payload, "timeout", number("ct_timeout"));
      put(payload, "memory_mb", number("ct_memory_mb"));
      put(payload, "cpus", number("ct_cpus", true));
      put(payload, "network", choice("ct_network", "bridge"));
      const volumes = readRows("ct_volumes")
        .filter(([source, target]) => source.trim() || target.trim())
        .map(([source, target, mode]) => ({
          source: source.trim(),
          target: target.trim(),
          ...(mode === "ro" ? { read_only: true } : {}),
        }));
      put(payload, "volumes", volumes.length ? volumes : undefined);
      put(payload, "user", text("ct_user"));
      if (valueOf("ct_read_only")) payload.read_only = true;
      return payload;
    },
    WEBHOOK() {
      const payload = { url: text("wh_url") };
      put(payload, "method", choice("wh_method", "POST"));
      put(payload, "headers", mapping("wh_headers"));
      put(payload, "body", jsonOrText("wh_body_format", "wh_body"));
      put(payload, "timeout", number("wh_timeout"));
      const codes = text("wh_expected_status_codes").split(/[\s,]+/).filter(Boolean);
      put(payload, "expected_status_codes", codes.length ? codes.map((code) => (/^\d+$/.test(code) ? Number(code) : code)) : undefined);
      put(payload, "retries", number("wh_retries"));
      put(payload, "secret", valueOf("wh_secret"));
      return payload;
    },
    WEBSOCKET() {
      const payload = { client_name: text("ws_client_name") };
      put(payload, "message", jsonOrText("ws_message_format", "ws_message"));
      put(payload, "ack_timeout", number("ws_ack_timeout"));
      return payload;
    },
    script() {
      const payload = { script: valueOf("script") };
      put(payload, "image", text("script_image"));
      return payload;
    },
  };

  // A payload shown in the fields; returns the keys that have no field (kept only in the JSON).
  const pairs = (object) => Object.entries(object || {}).map(([key, value]) => [key, String(value)]);
  const asText = (value) => (value === undefined || value === null ? "" : String(value));
  const showJsonOrText = (value, formatName, name) => {
    setValue(formatName, value === undefined ? "none" : typeof value === "string" ? "text" : "json");
    setValue(name, value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value, null, 2));
  };
  const fillers = {
    HEARTBEAT(payload) {
      setValue("hb_mode", "ping" in payload ? "ping" : "endpoint" in payload ? "endpoint" : "tick");
      setValue("hb_endpoint", payload.endpoint);
      setValue("hb_method", payload.method || "GET");
      setValue("hb_expected_status_code", asText(payload.expected_status_code));
      setValue("hb_timeout", asText(payload.timeout));
      writeRows("hb_headers", pairs(payload.headers));
      setValue("hb_ping_grace", asText((payload.ping || {}).grace));
      return ["endpoint", "method", "expected_status_code", "timeout", "headers", "ping"];
    },
    CONTAINER(payload) {
      setValue("ct_source", "dockerfile" in payload ? "dockerfile" : "image");
      setValue("ct_image", payload.image);
      setValue("ct_dockerfile", payload.dockerfile);
      writeRows("ct_files", pairs(payload.files));
      writeRows("ct_command", (payload.command || []).map((item) => [String(item)]));
      writeRows("ct_args", (payload.args || []).map((item) => [String(item)]));
      writeRows("ct_env", pairs(payload.env));
      writeRows(
        "ct_volumes",
        (payload.volumes || []).map((volume) => [asText(volume.source), asText(volume.target), volume.read_only ? "ro" : "rw"]),
      );
      setValue("ct_working_dir", payload.working_dir);
      setValue("ct_timeout", asText(payload.timeout));
      setValue("ct_memory_mb", asText(payload.memory_mb));
      setValue("ct_cpus", asText(payload.cpus));
      setValue("ct_network", payload.network || "bridge");
      setValue("ct_user", payload.user);
      setValue("ct_read_only", payload.read_only === true);
      const fields = ["image", "dockerfile", "files", "command", "args", "env", "volumes", "working_dir", "timeout"];
      return [...fields, "memory_mb", "cpus", "network", "user", "read_only"];
    },
    WEBHOOK(payload) {
      setValue("wh_url", payload.url);
      setValue("wh_method", payload.method || "POST");
      writeRows("wh_headers", pairs(payload.headers));
      showJsonOrText(payload.body, "wh_body_format", "wh_body");
      setValue("wh_timeout", asText(payload.timeout));
      setValue("wh_expected_status_codes", (payload.expected_status_codes || []).join(", "));
      setValue("wh_retries", asText(payload.retries));
      setValue("wh_secret", payload.secret);
      return ["url", "method", "headers", "body", "timeout", "expected_status_codes", "retries", "secret"];
    },
    WEBSOCKET(payload) {
      setValue("ws_client_name", payload.client_name);
      showJsonOrText(payload.message, "ws_message_format", "ws_message");
      setValue("ws_ack_timeout", asText(payload.ack_timeout));
      return ["client_name", "message", "ack_timeout"];
    },
    script(payload) {
      setValue("script", payload.script);
      setValue("script_image", payload.image);
      return ["script", "image"];
    },
  };

  // The JSON view, kept in step with the fields both ways.
  const json = control("payload");
  const jsonStatus = document.getElementById("json-status");
  const editorIsJson = () => valueOf("editor") === "json";
  const fieldsToJson = () => {
    const build = builders[kind()];
    if (build && json) json.value = JSON.stringify(build(), null, 2);
  };
  // Fills the fields from the JSON; returns the keys the fields cannot hold, or null if not JSON.
  const jsonToFields = () => {
    let payload;
    try {
      payload = JSON.parse(json.value);
    } catch (error) {
      jsonStatus.textContent = `Not valid JSON yet (${error.message}); the fields keep their last values.`;
      return null;
    }
    if (!payload || typeof payload !== "object" || Array.isArray(payload)) {
      jsonStatus.textContent = "The payload is a JSON object: { ... }.";
      return null;
    }
    const fill = fillers[kind()];
    const known = fill ? fill(payload) : [];
    const extra = Object.keys(payload).filter((key) => key !== "kind" && !known.includes(key));
    jsonStatus.textContent = extra.length
      ? `No field for ${extra.join(", ")}: only the JSON view sends ${extra.length === 1 ? "it" : "them"}.`
      : "The fields follow this JSON.";
    showBlocks();
    return extra;
  };

  const previousEditor = { value: valueOf("editor") };
  const editorChanged = () => {
    if (editorIsJson()) {
      fieldsToJson();
      jsonStatus.textContent = "";
    } else if (previousEditor.value === "json") {
      const extra = jsonToFields();
      const stay =
        extra === null
          ? !window.confirm("The JSON is not valid: switch to the fields and lose its changes?")
          : extra.length > 0 && !window.confirm(`The fields have no place for ${extra.join(", ")}: switch and drop ${extra.length === 1 ? "it" : "them"}?`);
      if (stay) {
        setValue("editor", "json");
        return;
      }
      fieldsToJson();
    }
    previousEditor.value = valueOf("editor");
    showBlocks();
  };

  // Whatever changed in the fields: blocks, the JSON view, the schedule preview.
  const changed = (event) => {
    const name = event && event.target ? event.target.name : "";
    if (name === "editor") return editorChanged();
    if (name === "payload") {
      jsonToFields();
      return;
    }
    showBlocks();
    if (name === "kind" && editorIsJson()) jsonToFields();
    else if (!editorIsJson()) fieldsToJson();
    // A timing just chosen has empty inputs: its preview waits for a value before it complains.
    if (isTiming(name)) schedulePreview(name === "timing");
  };
  // Selects, radios and checkboxes fire "input" too, so one listener sees every change.
  form.addEventListener("input", changed);

  // The schedule preview: the next five runs in the chosen timezone, or the inputs' errors.
  const TIMING = ["timing", "interval", "cron", "rrule", "at", "after", "after_on", "timezone", "start_at", "end_at"];
  const isTiming = (name) => TIMING.includes(name) || name.startsWith("rec_");
  const preview = document.getElementById("schedule-preview");
  const previewRuns = document.getElementById("preview-runs");
  const previewNote = document.getElementById("preview-note");
  const previewZone = document.getElementById("preview-zone");
  let timer = null;
  let asked = 0;
  const clearLiveErrors = () => {
    for (const error of form.querySelectorAll("small.error.live")) error.remove();
  };
  const showPreview = (body, ok) => {
    clearLiveErrors();
    preview.hidden = false;
    previewZone.textContent = body.timezone ? `(${body.timezone})` : "";
    previewRuns.replaceChildren(
      ...(body.runs || []).map((run) => {
        const item = document.createElement("li");
        const time = document.createElement("time");
        time.dateTime = run.at;
        time.textContent = run.local;
        item.append(time);
        return item;
      }),
    );
    const messages = [];
    for (const [name, errors] of Object.entries(body.errors || {})) {
      const block = document.getElementById(`field-${name}`);
      for (const message of errors) {
        if (block && !block.hidden) {
          const small = document.createElement("small");
          small.className = "error live";
          small.dataset.liveFor = name;
          small.textContent = message;
          block.append(small);
        }
        messages.push(message);
      }
    }
    if (ok) {
      // The inputs the server refused on the last submit may be right now: their old errors go.
      for (const name of TIMING) {
        const block = document.getElementById(`field-${name}`);
        if (block) block.querySelectorAll("small.error").forEach((error) => error.remove());
      }
    }
    previewNote.textContent = ok ? body.note || "" : `No preview: ${messages.join(" ")}`;
    previewNote.classList.toggle("error", !ok);
  };
  const schedulePreview = (quiet = false) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const url = new URL(form.dataset.previewUrl, window.location.href);
      for (const [name, value] of new FormData(form)) {
        if (isTiming(name)) url.searchParams.append(name, value);
      }
      const ticket = ++asked;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
        .then((body) => {
          if (ticket !== asked) return;
          // Inputs not typed into yet are not errors yet: the preview waits for a valid timing.
          if (quiet && !body.valid) {
            clearLiveErrors();
            preview.hidden = true;
            return;
          }
          showPreview(body, body.valid);
        })
        .catch(() => {
          if (ticket === asked) previewNote.textContent = "The preview is not available right now.";
        });
    }, 300);
  };

  // The browser's own timezone, one click away when it is not the chosen one.
  const zoneButton = document.getElementById("use-browser-zone");
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const offerZone = () => {
    zoneButton.hidden = !browserZone || valueOf("timezone") === browserZone;
    zoneButton.textContent = `Use my browser's timezone (${browserZone})`;
  };
  if (zoneButton) {
    zoneButton.addEventListener("click", () => {
      setValue("timezone", browserZone);
      offerZone();
      schedulePreview();
    });
    form.addEventListener("input", (event) => event.target.name === "timezone" && offerZone());
    offerZone();
  }

  showBlocks();
  if (!editorIsJson()) fieldsToJson();
  schedulePreview(!form.querySelector(".error-summary"));
})();
