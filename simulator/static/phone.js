// Phone-like chat page of the WhatsApp simulator. Plain JS, no build step, no CDN.
"use strict";

const STORAGE_KEY = "whatsapp-simulator-phones";
const POLL_MS = 700;
const phones = new Map(); // wa_id -> {section, list, typing, rendered: Map(seq -> li)}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    node.setAttribute(key, value);
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

function setStatus(message) {
  document.getElementById("status").textContent = message;
}

function savePhones() {
  localStorage.setItem(STORAGE_KEY, JSON.stringify([...phones.keys()]));
}

async function send(waId, body) {
  try {
    const response = await fetch("/_sim/send", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({wa_id: waId, ...body}),
    });
    const result = await response.json();
    if (!response.ok) setStatus(`Error: ${result.error}`);
    else if (result.error) setStatus(`No se pudo entregar el webhook (${result.error}).`);
    else if (result.webhook_status !== 200) setStatus(`El webhook respondió ${result.webhook_status}.`);
    else setStatus("");
    await poll(waId);
  } catch (error) {
    setStatus(`Error de red: ${error}`);
  }
}

function timeOf(event) {
  return new Date(event.time * 1000).toLocaleTimeString("es-CL", {hour: "2-digit", minute: "2-digit"});
}

function renderButtons(waId, event, item) {
  const group = el("div", {class: "reply-buttons", role: "group", "aria-label": "Botones de respuesta"});
  for (const button of event.buttons) {
    const node = el("button", {type: "button", "data-role": "reply-button", "data-reply-id": button.id,
                               "data-title": button.title}, button.title);
    node.addEventListener("click", () => send(waId, {type: "button_reply", id: button.id, title: button.title}));
    group.append(node);
  }
  item.append(group);
}

function renderList(waId, event, item) {
  const rowsId = `rows-${waId}-${event.seq}`;
  const opener = el("button", {type: "button", class: "list-open", "data-role": "list-open",
                               "aria-expanded": "false", "aria-controls": rowsId}, `☰ ${event.list.button}`);
  const rows = el("ul", {class: "list-rows", id: rowsId, "data-role": "list-rows"});
  rows.hidden = true;
  for (const row of event.list.rows) {
    const node = el("button", {type: "button", "data-role": "list-row", "data-row-id": row.id,
                               "data-title": row.title}, row.title);
    if (row.description) node.append(el("small", {}, row.description));
    node.addEventListener("click", () =>
      send(waId, {type: "list_reply", id: row.id, title: row.title, description: row.description}));
    const rowItem = el("li");
    rowItem.append(node);
    rows.append(rowItem);
  }
  opener.addEventListener("click", () => {
    rows.hidden = !rows.hidden;
    opener.setAttribute("aria-expanded", String(!rows.hidden));
    if (!rows.hidden) rows.querySelector("button")?.focus();
  });
  item.append(opener, rows);
}

function renderEvent(waId, event) {
  const item = el("li", {class: `msg ${event.direction}`, "data-seq": event.seq,
                         "data-direction": event.direction, "data-type": event.type,
                         "data-wamid": event.wamid});
  item.append(el("span", {class: "text", "data-role": "text"}, event.text || ""));
  if (event.direction === "out" && event.buttons) renderButtons(waId, event, item);
  if (event.direction === "out" && event.list) renderList(waId, event, item);
  const meta = el("span", {class: "meta"}, timeOf(event));
  if (event.direction === "in") {
    meta.append(" ", el("span", {class: "ticks", "data-role": "ticks", "aria-label": "enviado"}, "✓✓"));
  }
  item.append(meta);
  return item;
}

const TYPING_SECONDS = 25;

function updateEvent(item, event) {
  const ticks = item.querySelector("[data-role=ticks]");
  if (ticks && event.read && !ticks.classList.contains("read")) {
    ticks.classList.add("read");
    ticks.setAttribute("aria-label", "leído");
    item.dataset.read = "true";
  }
}

async function poll(waId) {
  const phone = phones.get(waId);
  if (!phone) return;
  const response = await fetch(`/_sim/conversations/${encodeURIComponent(waId)}`);
  if (!response.ok) return;
  const {events} = await response.json();
  const atBottom = phone.list.scrollHeight - phone.list.scrollTop - phone.list.clientHeight < 40;
  let added = false;
  for (const event of events) {
    const existing = phone.rendered.get(event.seq);
    if (existing) { updateEvent(existing, event); continue; }
    const item = renderEvent(waId, event);
    updateEvent(item, event);
    phone.rendered.set(event.seq, item);
    phone.list.append(item);
    added = true;
  }
  const last = events[events.length - 1];
  // like WhatsApp: the typing indicator ends with the next message or after 25 seconds
  const typing = last && last.direction === "in" && last.typing
    && Date.now() / 1000 - (last.read_at || 0) < TYPING_SECONDS;
  phone.typing.textContent = typing ? "escribiendo…" : "";
  if (added && atBottom) phone.list.scrollTop = phone.list.scrollHeight;
}

function addPhone(waId) {
  if (phones.has(waId)) {
    document.getElementById(`input-${waId}`).focus();
    return;
  }
  const section = el("section", {class: "phone", id: `phone-${waId}`, "data-wa-id": waId,
                                 "aria-label": `Teléfono ${waId}`});
  const header = el("header", {class: "phone-header"});
  header.append(el("h2", {}, `+${waId}`));
  const remove = el("button", {type: "button", "data-role": "remove-phone",
                               "aria-label": `Quitar teléfono ${waId}`}, "✕");
  remove.addEventListener("click", () => { section.remove(); phones.delete(waId); savePhones(); });
  header.append(remove);

  const list = el("ol", {class: "messages", id: `messages-${waId}`, "data-role": "messages",
                         "aria-label": `Mensajes de ${waId}`, "aria-live": "polite", tabindex: 0});
  const typing = el("p", {class: "typing", "data-role": "typing", "aria-live": "polite"});

  const form = el("form", {class: "composer", "data-role": "composer"});
  const inputId = `input-${waId}`;
  form.append(el("label", {for: inputId, class: "visually-hidden"}, `Mensaje desde ${waId}`));
  const input = el("input", {id: inputId, "data-role": "message-input", autocomplete: "off",
                             placeholder: "Escribe un mensaje"});
  form.append(input, el("button", {type: "submit", id: `send-${waId}`, "data-role": "send"}, "Enviar"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    send(waId, {type: "text", text});
  });

  const extras = el("div", {class: "extras", role: "group", "aria-label": "Otros mensajes"});
  const extra = (role, label, body) => {
    const button = el("button", {type: "button", "data-role": role}, label);
    button.addEventListener("click", () => send(waId, body));
    extras.append(button);
  };
  extra("send-location", "Enviar ubicación", {type: "location", name: "Mi ubicación"});
  extra("send-voice", "Nota de voz", {type: "voice"});
  extra("send-image", "Imagen", {type: "image"});

  section.append(header, list, typing, form, extras);
  document.getElementById("phones").append(section);
  phones.set(waId, {section, list, typing, rendered: new Map()});
  savePhones();
  poll(waId);
}

async function showActive() {
  const response = await fetch("/_sim/conversations");
  const {conversations} = await response.json();
  conversations.forEach((c) => addPhone(c.wa_id));
  setStatus(conversations.length ? "" : "Todavía no hay conversaciones.");
}

async function pollLoop() {
  for (const waId of [...phones.keys()]) {
    try { await poll(waId); } catch (error) { /* the next round retries */ }
  }
  setTimeout(pollLoop, POLL_MS);
}

document.getElementById("add-phone-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("new-phone");
  const waId = input.value.trim().replace(/^\+/, "");
  if (!/^\d{5,20}$/.test(waId)) { setStatus("El número debe tener entre 5 y 20 dígitos."); return; }
  input.value = "";
  addPhone(waId);
});
document.getElementById("show-active").addEventListener("click", showActive);

const stored = JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]");
(stored.length ? stored : ["56911112222"]).forEach(addPhone);
pollLoop();
