// The reporter's pages work without this file; it makes them quicker, lets a report wait
// offline and solves the proof of work. No text for people to read lives here: every
// message comes from the page, rendered by the server in the reader's language.
"use strict";
const $ = (selector, scope = document) => scope.querySelector(selector);
const $$ = (selector, scope = document) => [...scope.querySelectorAll(selector)];
const byId = (id) => document.getElementById(id);
const show = (element, visible = true) => { if (element) element.hidden = !visible; };
const fill = (template, values) => template.replace(/\{(\w+)\}/g, (whole, key) => values[key] ?? whole);
const lang = document.documentElement.lang || "en";
const after = $("[data-after]");
const form = $("form[data-report]");
const refused = new Set();
let unsaved = null; // a waiting report, when this browser keeps no IndexedDB
let current = null; // the report the "waiting" view is about
let busy = false, done = false, timer = 0, photos = [];

navigator.serviceWorker?.register("/sw.js")
  .then(() => navigator.serviceWorker.ready)
  .then((registration) => registration.active.postMessage({ lang }))
  .catch(() => {});

// The API

async function call(path, init) {
  const response = await fetch(path, { method: "POST", credentials: "omit", headers: { "accept-language": lang }, ...init });
  let answer = {};
  try { answer = await response.json(); } catch (error) { if (response.ok) throw error; }
  if (response.ok) return answer;
  throw Object.assign(new Error(), { status: response.status, error: answer.error || {} });
}

async function proof() {
  const task = await call("/api/v1/public/challenge");
  if (!task.difficulty) return null;
  const nonce = await new Promise((resolve, reject) => {
    const worker = new Worker(document.body.dataset.powWorker);
    worker.onmessage = (event) => { worker.terminate(); resolve(event.data); };
    worker.onerror = () => { worker.terminate(); reject(Object.assign(new Error(), { status: 1 })); };
    worker.postMessage(task);
  });
  return { challenge: task.challenge, nonce };
}

async function deliver(record) {
  for (let attempt = 0; ; attempt++) {
    const report = { ...record.report }, solved = await proof(), parts = new FormData();
    if (solved) report.proof = solved;
    parts.append("report", JSON.stringify(report));
    record.photos.forEach((photo, index) => parts.append("files", photo, `photo-${index + 1}.jpg`));
    try {
      return await call("/api/v1/reports", { body: parts });
    } catch (error) {
      if (attempt || error.error?.code !== "proof_rejected") throw error;
    }
  }
}

// The outbox: a report waits on this phone, and only here, until it is sent

function outbox(mode, act) {
  return new Promise((resolve, reject) => {
    const opening = indexedDB.open("portline", 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore("outbox", { keyPath: "key" });
    opening.onerror = () => reject(opening.error);
    opening.onsuccess = () => {
      const database = opening.result, transaction = database.transaction("outbox", mode);
      const request = act(transaction.objectStore("outbox"));
      transaction.oncomplete = () => { database.close(); resolve(request.result); };
      transaction.onabort = () => { database.close(); reject(transaction.error); };
    };
  });
}
const waiting = () => outbox("readonly", (store) => store.getAll()).catch(() => []);
const drop = (key) => outbox("readwrite", (store) => store.delete(key)).catch(() => {});

function showAfter(part) {
  for (const child of $("main").children) child.hidden = child !== after;
  show($("[data-queued]", after), part === "queued");
  show($("[data-sent]", after), part === "sent");
  $(`[data-${part}] h1`, after).focus();
}

function showReceipt({ receipt, reference }) {
  done = true;
  clearInterval(timer);
  const code = $("[data-code]", after), groups = receipt.match(/\d{4}/g);
  code.replaceChildren(...groups.map((group) => Object.assign(document.createElement("span"), { textContent: group })));
  code.setAttribute("aria-label", `${code.dataset.label}: ${groups.join(" ")}`);
  $("[data-reference]", after).textContent = reference;
  $("[data-copy]", after).dataset.copy = receipt;
  showAfter("sent");
}

function explain(element, error) {
  const { message, fields = [] } = error.error || {};
  element.textContent = [message || element.dataset.fallback, ...fields.map((field) => field.message)].join("\n");
  element.hidden = false;
}

async function flush() {
  if (busy || done || !after) return;
  busy = true;
  const queued = $("[data-queued]", after);
  try {
    const records = await waiting();
    if (unsaved && !records.some((record) => record.key === unsaved.key)) records.push(unsaved);
    const next = records.find((record) => !refused.has(record.key));
    show($("[data-pending]"), Boolean(next));
    if (!next) {
      clearInterval(timer);
      timer = 0;
      return;
    }
    timer ||= setInterval(flush, 15000);
    if (!navigator.onLine) return;
    current = next;
    show($("[data-sending]", queued));
    const receipt = await deliver(next);
    await drop(next.key);
    unsaved = null;
    showReceipt(receipt);
  } catch (error) {
    // Offline, busy or broken for now: try again later. Refused: say why and stop.
    if (error.status && error.status !== 429 && error.status < 500) {
      refused.add(current.key);
      showAfter("queued");
      explain($("[data-send-error]", queued), error);
    }
  } finally {
    show($("[data-sending]", queued), false);
    busy = false;
  }
}

// The report form

// A form whose photos already wait on the server stays on the no-JavaScript path.
const enhanced = form && !form.elements.draft_token.value;
const sections = enhanced ? $$("section.step", form) : [];
const steps = sections.map((section) => section.dataset.step);
const section = (step) => sections[steps.indexOf(step)];
const field = (name) => form.elements.namedItem(name);
const checked = (name) => $$(`input[name=${name}]:checked`, form);
const value = (name) => (field(name) instanceof RadioNodeList || field(name)?.type === "radio"
  ? checked(name)[0]?.value || "" : (field(name)?.value || "").trim());
const submissionKey = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))))
  .replace(/\+/g, "-").replace(/\//g, "_");
let step = form?.dataset.current;

function go(next, focus) {
  step = next;
  for (const each of sections) each.hidden = each !== section(next);
  field("step").value = next;
  const progress = $("[data-progress]", form);
  progress.textContent = fill(progress.dataset.template, { number: steps.indexOf(next) + 1, total: steps.length });
  $("[data-error-summary]", form)?.remove();
  if (next === "review") review();
  (focus || $("h1", section(next))).focus();
}

// Shows a problem by its field, as the server does; returns what to focus.
function mark(name, message) {
  const box = byId(`field-${name}`), group = box.matches("fieldset");
  const target = group ? box : $(`[name="${name}"]`, box) || box;
  const error = Object.assign(document.createElement("p"), { className: "error", id: `${name}-error`, textContent: message });
  if (group) $("legend", box).after(error);
  else target.before(error);
  target.setAttribute("aria-invalid", "true");
  target.setAttribute("aria-describedby", `${error.id} ${target.getAttribute("aria-describedby") || ""}`.trim());
  return group ? $$("input", box).find((input) => input.offsetParent) : target;
}

// Marks each problem and goes to the step of the first; false when there is none.
function complain(found) {
  for (const error of $$("p.error[id$='-error']", form)) error.remove();
  for (const element of $$("[aria-invalid]", form)) {
    element.removeAttribute("aria-invalid");
    const ids = element.getAttribute("aria-describedby")?.split(" ").filter((id) => !id.endsWith("-error")).join(" ");
    if (ids) element.setAttribute("aria-describedby", ids);
    else element.removeAttribute("aria-describedby");
  }
  if (!found.length) return false;
  const first = byId(`field-${found[0][0]}`).closest("section").dataset.step;
  if (first !== step) go(first);
  found.map(([name, message]) => mark(name, message))[0]?.focus();
  return true;
}

// What the server would say of this step, checked here first.
function problems(step) {
  const found = [];
  const need = (name, given = value(name)) => given || found.push([name, byId(`field-${name}`).dataset.required]);
  if (step === "kind" || step === "category") need(step);
  if (step === "what") need("narrative");
  if (step === "where") {
    need("port");
    need("occurred");
    const day = value("occurred_on"), box = byId("field-occurred_on").dataset;
    if (value("occurred") !== "date") return found;
    if (!day) need("occurred_on");
    else if (day > today()) found.push(["occurred_on", box.future]);
    else if (day < "2000") found.push(["occurred_on", box.tooOld]);
  }
  if (step === "identity") {
    need("identity_mode");
    if (value("identity_mode") === "confidential") need("identity_name", value("identity_name") || value("identity_contact"));
  }
  return found;
}

function update() {
  const kind = value("kind"), port = value("port"), zone = field("zone");
  for (const label of $$("label[data-kind]", form)) {
    label.hidden = Boolean(kind) && label.dataset.kind !== kind;
    if (label.hidden) $("input", label).checked = false;
  }
  const cargo = checked("category")[0]?.closest("label").dataset.cargo === "yes";
  const unknown = $("input[name=cargo_direction][value=not_applicable]", form);
  show($("[data-cargo-question]", form), cargo);
  if (!cargo && unknown) unknown.checked = true;
  for (const group of $$("optgroup[data-port]", form)) group.hidden = group.disabled = Boolean(port) && group.dataset.port !== port;
  if (zone.selectedOptions[0]?.parentNode.disabled) zone.value = "";
  show($("[data-identity-fields]", form), value("identity_mode") === "confidential");
  show(byId("field-occurred_on"), value("occurred") === "date");
}

function review() {
  const item = (name) => $(`[data-review-item=${name}]`, form);
  const choice = (name) => checked(name).map((input) => $("span", input.closest("label")).firstChild.textContent.trim()).join(", ");
  const option = (name) => (field(name).value ? field(name).selectedOptions[0].textContent : "");
  const when = item("when").dataset, identity = item("identity").dataset, occurred = value("occurred");
  item("kind").textContent = choice("kind");
  item("category").textContent = choice("category");
  item("where").textContent = [option("port"), option("zone"), value("location_detail")].filter(Boolean).join(", ");
  item("when").textContent = (occurred === "date" ? value("occurred_on") : when[occurred] || "") +
    (field("occurred_approximate").checked ? ` (${when.approximately})` : "");
  show($("[data-review-row=cargo_direction]", form), !$("[data-cargo-question]", form).hidden);
  item("cargo_direction").textContent = choice("cargo_direction");
  item("narrative").textContent = field("narrative").value;
  item("photos").textContent = photos.length;
  item("identity").textContent = value("identity_mode") === "confidential"
    ? `${identity.confidential}: ${value("identity_name")} ${value("identity_contact")}` : identity.anonymous;
  item("exclusions").textContent = choice("exclude_bodies") || item("exclusions").dataset.nobody;
}

function report() {
  const occurred = value("occurred");
  return {
    kind: value("kind"),
    category: value("category"),
    port: value("port"),
    zone: value("zone") || null,
    location_detail: value("location_detail") || null,
    occurred_on: occurred === "date" ? value("occurred_on") : today(occurred === "yesterday" ? -1 : 0),
    occurred_approximate: field("occurred_approximate").checked,
    cargo_direction: (!$("[data-cargo-question]", form).hidden && value("cargo_direction")) || "not_applicable",
    narrative: field("narrative").value,
    identity: value("identity_mode") === "confidential"
      ? {
        name: value("identity_name") || null,
        contact: value("identity_contact") || null,
        may_share: field("identity_may_share").checked,
      } : null,
    exclude_bodies: checked("exclude_bodies").map((input) => input.value),
    language: lang,
    submission_key: submissionKey,
  };
}

async function send() {
  const last = section("review"), problem = $("[data-send-error]", last);
  problem.hidden = true;
  if (complain(steps.flatMap(problems))) return;
  const record = { key: submissionKey, report: report(), photos: photos.map((photo) => photo.blob) };
  busy = true; // the outbox waits while this page sends
  show($("[data-sending]", last));
  for (const button of $$("button", last)) button.disabled = true;
  try {
    await outbox("readwrite", (store) => store.put(record)).catch(() => { unsaved = record; });
    current = record;
    if (!navigator.onLine) throw new Error();
    const receipt = await deliver(record);
    await drop(record.key);
    unsaved = null;
    showReceipt(receipt);
  } catch (error) {
    if (!error.status) {
      showAfter("queued");
      timer ||= setInterval(flush, 15000);
      return;
    }
    // Refused, so nothing was stored: mend and send again, with the same key.
    await drop(record.key);
    unsaved = null;
    explain(problem, error);
    const fields = (error.error?.fields || []).map(({ field: path, message }) => {
      const name = path.replace(/^report\./, "").split(/[.[]/)[0];
      return [name === "identity" ? "identity_name" : name, message];
    });
    if (!complain(fields.filter(([name]) => byId(`field-${name}`)))) problem.focus();
  } finally {
    show($("[data-sending]", last), false);
    for (const button of $$("button", last)) button.disabled = false;
    busy = false;
  }
}

// Decoding and drawing again keeps only the pixels: no EXIF, GPS or other metadata.
async function reencode(file) {
  let image;
  try {
    image = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    image = new Image();
    image.src = URL.createObjectURL(file);
    try { await image.decode(); } finally { URL.revokeObjectURL(image.src); }
  }
  const width = image.naturalWidth || image.width, height = image.naturalHeight || image.height;
  const scale = Math.min(1, 2048 / Math.max(width, height));
  const canvas = Object.assign(document.createElement("canvas"), {
    width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)),
  });
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff"; // transparent parts of a PNG would turn black in a JPEG
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.imageSmoothingQuality = "high";
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  image.close?.();
  return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error())), "image/jpeg", 0.85));
}

async function addPhotos() {
  const picker = field("files"), progress = $("[data-photo-progress]", form), files = [...picker.files];
  const room = Math.max(picker.dataset.maxFiles - photos.length, 0), chosen = files.slice(0, room);
  let trouble = files.length > room ? picker.dataset.tooMany : "";
  picker.value = "";
  picker.disabled = true;
  complain([]);
  for (const [index, file] of chosen.entries()) {
    progress.textContent = fill(progress.dataset.template, { number: index + 1, total: chosen.length });
    progress.hidden = false;
    try {
      photos.push({ name: file.name, blob: await reencode(file) });
    } catch {
      trouble = picker.dataset.unreadable;
    }
  }
  progress.hidden = true;
  picker.disabled = false;
  listPhotos();
  if (trouble) mark("files", trouble).focus();
}

function listPhotos() {
  const row = $("[data-photo-item]", form).content.firstElementChild;
  $("[data-photo-list]", form).replaceChildren(...photos.map((photo, index) => {
    const item = row.cloneNode(true), name = $("span", item), remove = $("[data-remove]", item);
    Object.assign(name, { textContent: photo.name, id: `photo-${index}` });
    remove.value = index;
    remove.setAttribute("aria-describedby", name.id);
    return item;
  }));
}

if (enhanced) {
  show($("[data-nojs-upload]", form), false);
  field("files").addEventListener("change", addPhotos);
  form.addEventListener("change", update);
  form.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-remove]");
    if (!remove) return;
    photos.splice(remove.value, 1);
    listPhotos();
    field("files").focus();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const action = event.submitter?.value || "next", index = steps.indexOf(step);
    if (action === "send") send();
    else if (action === "back") go(steps[Math.max(index - 1, 0)]);
    else if (action.startsWith("edit:") && steps.includes(action.slice(5))) go(action.slice(5));
    else if (action === "next" && !complain(problems(step)) && index < steps.length - 1) go(steps[index + 1]);
  });
  show($("[data-list-zones]", form), false); // the zones follow the port as it is chosen
  update();
}

// The phone's own calendar day, `offset` days away, as YYYY-MM-DD.
function today(offset = 0) {
  const day = new Date();
  day.setDate(day.getDate() + offset);
  return [day.getFullYear(), day.getMonth() + 1, day.getDate()].map((part) => String(part).padStart(2, "0")).join("-");
}

// Elsewhere

if (after) {
  const discard = $("[data-discard]", after);
  discard.addEventListener("click", async () => {
    if (!confirm(discard.dataset.confirm)) return;
    if (current) await drop(current.key);
    unsaved = null;
    location.href = `/?lang=${lang}`;
  });
  addEventListener("online", flush);
  waiting().then((records) => {
    if (!records.length) return;
    current = records[0];
    if (form) showAfter("queued");
    flush();
  });
}

// Coming back with a receipt: a solved proof of work stands in for the form token.
const login = $("form[data-login]");
login?.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (busy) return;
  busy = true;
  show($("[data-working]", login));
  try {
    const solved = await proof();
    for (const name of solved ? ["challenge", "nonce"] : []) {
      login.append(Object.assign(document.createElement("input"), { type: "hidden", name: `proof_${name}`, value: solved[name] }));
    }
  } catch {
    // The form token in the page still lets the server check the request.
  }
  login.submit();
});

// My report logs itself out after a while without use.
const logout = $("form[data-logout]");
if (logout) {
  let idle = 0;
  const restart = () => {
    clearTimeout(idle);
    idle = setTimeout(() => logout.requestSubmit($("button[value=logout]", logout)),
      Math.min(logout.dataset.idleSeconds || 600, 600) * 1000);
  };
  for (const type of ["pointerdown", "keydown"]) addEventListener(type, restart, true);
  restart();
}

for (const button of $$("[data-copy]")) button.hidden = false;

document.addEventListener("click", async (event) => {
  const exit = event.target.closest("a[data-quick-exit]"), copy = event.target.closest("[data-copy]");
  if (exit) {
    event.preventDefault();
    unsaved = current = null;
    photos = [];
    form?.reset();
    location.replace(document.body.dataset.quickExit || exit.href);
  } else if (copy) {
    const copied = $("[data-copied]", copy.parentNode);
    try {
      await navigator.clipboard.writeText(copy.dataset.copy);
      show(copied);
    } catch {
      getSelection().selectAllChildren($(".code", copy.parentNode));
      show(copied, document.execCommand("copy"));
    }
  }
});
