// The browser client: the JSON-lines objects of docs/protocol.md, one per WebSocket frame.
// User text only ever reaches the page through textContent, so nothing said can be markup.
"use strict";

const STRINGS = {
  en: {
    nick_label: "Your nick", enter: "Enter", members: "Members", rooms: "Rooms",
    messages: "Messages", message: "Message", send: "Send",
    connecting: "connecting…", connected: "connected", offline: "offline",
    reconnecting: "reconnecting in {s} s", unreachable: "Cannot reach the server; is it running?",
    empty_nick: "Type a nick first.",
    joined: "{nick} joined {room}", parted: "{nick} left {room}", quit: "{nick} quit",
    renamed: "{old} is now known as {new}", topic_set: "{nick} set the topic: {topic}",
    topic_is: "Topic of {room}: {topic}", no_topic: "{room} has no topic",
    kicked: "{nick} was put out of {room} by {by}", away: "{nick} is away: {message}",
    back: "{nick} is back", invited: "{by} invites you to {room}",
    mode: "{by} sets mode {modes}", who: "{room} ({n}): {names}", rooms_line: "{room} ({n}) {topic}",
    you_are: "You are {nick}", unknown: "Unknown command /{cmd}: try /help", done: "Done",
    usage: "Usage: {usage}", unread: "{n} unread", private_with: "private with {nick}",
    reason: "({reason})", older: "Earlier messages", search: "Search this room",
    password_label: "Password (for a registered nick)", registered: "{nick} is registered to you",
    logged_in: "You are logged in as {account}", password_changed: "Password changed",
    found: "{n} found for “{words}” in {room}, newest first:", not_found: "Nothing found for “{words}” in {room}",
    keys: "Alt+↑/↓ change room · ↑/↓ in the input: earlier lines · Tab completes nicks and commands",
    keys_log: "In the messages: ↑/↓ pick a message, Tab reaches its reply, reactions and delete",
    new_messages: "New messages", notify_room: "{nick} in {room}", notify_private: "{nick}, privately",
    operator: "operator", voiced: "voice", away_mark: "away", open_private: "Open a private conversation with {nick}",
    away_button: "Away", away_default: "away", you_away: "You are away: {message}", you_back: "You are back",
    topic_button: "Topic: {topic}. Change it", no_topic_set: "Set a topic", topic_label: "Topic of {room}",
    reply: "Reply", react_with: "React with {emoji}", delete: "Delete", actions: "Message actions",
    replying: "Replying to {nick}:", cancel_reply: "Cancel the reply", in_reply: "In reply to {nick}: {text}",
    reply_unknown: "In reply to an earlier message", reacted: "{emoji} {n}: {nicks}",
    delete_confirm: "Delete this message for everyone?",
    typing_one: "{nick} is typing…", typing_two: "{a} and {b} are typing…", typing_many: "Several people are typing…",
  },
  es: {
    nick_label: "Tu apodo", enter: "Entrar", members: "Miembros", rooms: "Salas",
    messages: "Mensajes", message: "Mensaje", send: "Enviar",
    connecting: "conectando…", connected: "conectado", offline: "sin conexión",
    reconnecting: "reconectando en {s} s", unreachable: "No se alcanza el servidor; ¿está en marcha?",
    empty_nick: "Escribe un apodo primero.",
    joined: "{nick} entró en {room}", parted: "{nick} salió de {room}", quit: "{nick} se fue",
    renamed: "{old} ahora se llama {new}", topic_set: "{nick} puso el tema: {topic}",
    topic_is: "Tema de {room}: {topic}", no_topic: "{room} no tiene tema",
    kicked: "{by} echó a {nick} de {room}", away: "{nick} está ausente: {message}",
    back: "{nick} ha vuelto", invited: "{by} te invita a {room}",
    mode: "{by} pone el modo {modes}", who: "{room} ({n}): {names}", rooms_line: "{room} ({n}) {topic}",
    you_are: "Eres {nick}", unknown: "Orden desconocida /{cmd}: prueba /help", done: "Hecho",
    usage: "Uso: {usage}", unread: "{n} sin leer", private_with: "privado con {nick}",
    reason: "({reason})", older: "Mensajes anteriores", search: "Buscar en esta sala",
    password_label: "Contraseña (si tu apodo está registrado)", registered: "{nick} queda registrado a tu nombre",
    logged_in: "Entraste como {account}", password_changed: "Contraseña cambiada",
    found: "{n} encontrados con “{words}” en {room}, lo más reciente primero:", not_found: "Nada encontrado con “{words}” en {room}",
    keys: "Alt+↑/↓ cambia de sala · ↑/↓ en la entrada: líneas anteriores · Tab completa apodos y órdenes",
    keys_log: "En los mensajes: ↑/↓ eligen un mensaje, Tab llega a responder, reaccionar y borrar",
    new_messages: "Mensajes nuevos", notify_room: "{nick} en {room}", notify_private: "{nick}, en privado",
    operator: "operador", voiced: "voz", away_mark: "ausente", open_private: "Abrir una conversación privada con {nick}",
    away_button: "Ausente", away_default: "ausente", you_away: "Estás ausente: {message}", you_back: "Has vuelto",
    topic_button: "Tema: {topic}. Cambiarlo", no_topic_set: "Poner un tema", topic_label: "Tema de {room}",
    reply: "Responder", react_with: "Reaccionar con {emoji}", delete: "Borrar", actions: "Acciones del mensaje",
    replying: "Respondiendo a {nick}:", cancel_reply: "Cancelar la respuesta", in_reply: "En respuesta a {nick}: {text}",
    reply_unknown: "En respuesta a un mensaje anterior", reacted: "{emoji} {n}: {nicks}",
    delete_confirm: "¿Borrar este mensaje para todos?",
    typing_one: "{nick} está escribiendo…", typing_two: "{a} y {b} están escribiendo…", typing_many: "Varias personas están escribiendo…",
  },
};
const LANG = (navigator.language || "en").toLowerCase().startsWith("es") ? "es" : "en";
const T = STRINGS[LANG];

function t(key, args = {}) {
  return T[key].replace(/\{(\w+)\}/g, (_, name) => String(args[name] ?? ""));
}

// The terminal client's palette, in the same order: a nick has the same colour in both.
const PALETTE = [
  "red", "green", "yellow", "blue", "magenta", "cyan", "bright_red", "bright_green",
  "bright_blue", "bright_magenta", "bright_cyan", "dark_orange",
];
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes) {
  let crc = 0xffffffff;
  for (const b of bytes) crc = CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function nickColour(nick) {
  return PALETTE[crc32(new TextEncoder().encode(nick.toLowerCase())) % PALETTE.length];
}

const $ = (id) => document.getElementById(id);
// Nicks and rooms compare as the server does: NFKC, then lower case.
const fold = (name) => name.normalize("NFKC").toLowerCase();
const BACKOFF_FIRST = 0.5;
const BACKOFF_MAX = 30;
const DEFAULT_ROOM = "#lobby";

const chat = {
  ws: null,
  nick: "",
  password: "",
  server: "",
  limit: 512,
  welcomed: false,
  commands: [], // from /commands.json: the `/` commands this page understands
  aliases: new Map(),
  quitting: false,
  attempts: 0,
  retryTimer: null,
  nextId: 1,
  pending: new Map(), // request id -> callback(reply)
  tabs: new Map(), // folded name -> tab
  current: null,
  history: [],
  historyAt: 0,
  title: "tertulia", // the page's title without the unread count
  away: new Map(), // folded nick -> away message, for everyone known to be away
  myAway: "", // our own away message; "" while present
  replyTo: null, // {tab, msgid} while a reply is being written
  typing: { target: "", at: 0 }, // whom our last "active" typing notice went to, and when
};
const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉", "😮"];
const TYPING_EVERY = 3000; // ms between our "active" notices while typing
const TYPING_ACTIVE = 6000; // ms an "active" notice lasts without another (IRCv3 typing)
const TYPING_PAUSED = 30000;

// -- tabs: one per room, one per private conversation --------------------------------

function tabFor(name, create = true) {
  const key = fold(name);
  let tab = chat.tabs.get(key);
  if (!tab && create) {
    tab = {
      key, name, isRoom: name.startsWith("#"), topic: "", members: [], unread: 0,
      mentioned: false, log: document.createElement("div"), joined: false,
      seen: new Set(), oldest: 0, more: false, olderButton: document.createElement("button"),
      operators: new Set(), voiced: new Set(), // folded nicks
      firstUnread: null, // the first line that arrived unseen, where "new messages" goes
      byId: new Map(), // msgid -> {from, text, line, reactions: Map(emoji -> [nick])}
      typers: new Map(), // folded nick -> {nick, timer}
    };
    tab.log.className = "lines";
    // Earlier messages from the history, a page at a time, above the first line.
    tab.olderButton.type = "button";
    tab.olderButton.className = "older";
    tab.olderButton.textContent = T.older;
    tab.olderButton.hidden = true;
    tab.olderButton.addEventListener("click", () => older(tab));
    tab.log.append(tab.olderButton);
    chat.tabs.set(key, tab);
    renderTabs();
  }
  return tab;
}

function closeTab(tab) {
  chat.tabs.delete(tab.key);
  if (chat.current === tab) chat.current = null;
  const next = chat.tabs.values().next().value;
  if (next) showTab(next); else renderTabs();
  updateTitle();
}

function showTab(tab) {
  if (chat.current !== tab) {
    typingDone();
    cancelReply();
  }
  chat.current = tab;
  const marker = markNew(tab);
  tab.unread = 0;
  tab.mentioned = false;
  $("log").replaceChildren(tab.log);
  $("title").textContent = tab.isRoom ? tab.name : t("private_with", { nick: tab.name });
  closeTopicEditor();
  renderTopic();
  renderTabs();
  renderMembers();
  renderTyping();
  updateTitle();
  if (marker) marker.scrollIntoView({ block: "center" }); else scrollDown();
}

// "New messages" goes before the first line that came while this tab was not in view;
// there is one such line per tab, moved each time we come back to new lines.
function markNew(tab) {
  const first = tab.firstUnread;
  tab.firstUnread = null;
  if (!tab.unread || !first || !tab.log.contains(first)) return null;
  tab.log.querySelector(".new-marker")?.remove();
  const marker = document.createElement("div");
  marker.className = "new-marker";
  marker.setAttribute("role", "separator");
  marker.setAttribute("aria-label", T.new_messages);
  const label = document.createElement("span");
  label.textContent = T.new_messages;
  marker.append(label);
  first.before(marker);
  return marker;
}

// The tab title carries what is unread, so a hidden tab still says something happened.
function updateTitle() {
  let total = 0;
  for (const tab of chat.tabs.values()) total += tab.unread;
  document.title = (total ? `(${total}) ` : "") + chat.title;
}

function renderTabs() {
  const list = $("room-list");
  list.replaceChildren();
  for (const tab of chat.tabs.values()) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "tab";
    button.dataset.room = tab.name;
    button.textContent = tab.name;
    if (tab === chat.current) button.setAttribute("aria-current", "true");
    if (tab.unread) {
      const badge = document.createElement("span");
      badge.className = tab.mentioned ? "unread mention" : "unread";
      badge.textContent = String(tab.unread);
      badge.setAttribute("aria-label", t("unread", { n: tab.unread }));
      button.append(" ", badge);
    }
    button.addEventListener("click", () => { showTab(tab); $("input").focus(); });
    item.append(button);
    list.append(item);
  }
}

// Operators first, then those with a voice, then everyone else, each by name, as IRC
// clients list them.
function rank(tab, nick) {
  return tab.operators.has(fold(nick)) ? 0 : tab.voiced.has(fold(nick)) ? 1 : 2;
}

function renderMembers() {
  const list = $("member-list");
  list.replaceChildren();
  const tab = chat.current;
  if (!tab) return;
  const names = tab.isRoom ? tab.members : [chat.nick, tab.name];
  const sorted = [...names].sort((a, b) => rank(tab, a) - rank(tab, b) || fold(a).localeCompare(fold(b)));
  for (const nick of sorted) {
    const item = document.createElement("li");
    const own = fold(nick) === fold(chat.nick);
    // Anyone but ourselves is a button that opens a private conversation.
    const entry = document.createElement(own ? "span" : "button");
    entry.className = "member nick c-" + nickColour(nick);
    const marks = [];
    const op = tab.operators.has(fold(nick));
    const voice = !op && tab.voiced.has(fold(nick));
    if (op || voice) {
      const prefix = document.createElement("span");
      prefix.className = "rank";
      prefix.textContent = op ? "@" : "+";
      prefix.setAttribute("aria-hidden", "true");
      entry.append(prefix);
      marks.push(op ? T.operator : T.voiced);
    }
    entry.append(nick);
    const away = chat.away.get(fold(nick));
    if (away !== undefined) {
      item.classList.add("away");
      const mark = document.createElement("span");
      mark.className = "away-mark";
      mark.textContent = T.away_mark;
      entry.append(" ", mark);
      if (away) entry.title = away;
    }
    if (marks.length) entry.setAttribute("aria-label", [nick, ...marks, ...(away !== undefined ? [T.away_mark] : [])].join(", "));
    if (!own) {
      entry.type = "button";
      entry.title = (away ? away + " · " : "") + t("open_private", { nick });
      entry.addEventListener("click", () => {
        showTab(tabFor(nick));
        closeMembersPanel();
        $("input").focus();
      });
    }
    item.append(entry);
    list.append(item);
  }
}

// -- the log ------------------------------------------------------------------------

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;

// Text with its web addresses as links; anything else stays text, whatever it contains.
function richText(text) {
  const out = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let href = match[0].replace(/[.,;:!?)\]]+$/, "");
    let url = null;
    try { url = new URL(href); } catch { url = null; }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    out.append(text.slice(last, match.index));
    const link = document.createElement("a");
    link.href = url.href;
    link.textContent = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer nofollow";
    out.append(link);
    last = match.index + href.length;
  }
  out.append(text.slice(last));
  return out;
}

function clock(ts) {
  const when = ts ? new Date(ts * 1000) : new Date();
  const time = document.createElement("time");
  time.dateTime = when.toISOString();
  const hhmm = when.toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  // Lines from another day (history, search results) carry their date.
  const today = new Date().toDateString() === when.toDateString();
  time.textContent = today
    ? hhmm
    : when.toLocaleDateString(LANG, { day: "2-digit", month: "2-digit" }) + " " + hhmm;
  return time;
}

function mentions(text) {
  if (!chat.nick) return false;
  const escaped = chat.nick.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
  // A nick may be in any script: a word boundary is whatever is not a letter or digit.
  return new RegExp(`(^|[^\\p{L}\\p{M}\\p{N}_])${escaped}($|[^\\p{L}\\p{M}\\p{N}_])`, "iu").test(text);
}

function makeLine(kind, parts, ts) {
  const line = document.createElement("div");
  line.className = "line " + kind;
  line.append(clock(ts), " ", ...parts);
  return line;
}

function addLine(tab, kind, parts, options = {}) {
  return appendLine(tab, makeLine(kind, parts, options.ts), { ...options, kind });
}

function appendLine(tab, line, { kind = "", alert = false, own = false, quiet = false } = {}) {
  const atBottom = isAtBottom();
  tab.log.append(line);
  // Long sessions stay light: keep the last lines only.
  while (tab.log.childElementCount > 2000) forget(tab, tab.log.querySelector(".line"));
  // Lines count as unread in another tab, and in this one while the page is hidden.
  const unseen = tab !== chat.current || document.hidden;
  if (unseen && kind !== "info" && !own && !quiet) {
    if (!tab.unread) tab.firstUnread = line;
    tab.unread += 1;
    tab.mentioned ||= alert;
    renderTabs();
    updateTitle();
  }
  if (tab === chat.current && atBottom) scrollDown();
  return line;
}

// A line leaves the log: what points at it goes too.
function forget(tab, line) {
  if (!line) return;
  if (tab.firstUnread === line) tab.firstUnread = line.nextElementSibling;
  const msgid = Number(line.dataset.msgid);
  if (msgid && tab.byId.get(msgid)?.line === line) tab.byId.delete(msgid);
  if (toolbar.parentElement === line) toolbar.remove();
  line.remove();
}

function nickSpan(nick, wrap = true) {
  const span = document.createElement("span");
  span.className = "nick c-" + nickColour(nick);
  span.textContent = wrap ? `<${nick}>` : nick;
  return span;
}

// The parts and class of a message line, live or from history.
function messageParts(from, text, kind) {
  const own = fold(from) === fold(chat.nick);
  const alert = !own && mentions(text);
  const body = document.createElement("span");
  body.className = "text";
  body.append(richText(text));
  const cls = kind === "action" ? "action" : kind === "notice" ? "notice" : "message";
  const parts = kind === "action"
    ? ["* ", nickSpan(from, false), " ", body]
    : [nickSpan(from), " ", body];
  return { cls: alert ? cls + " mention" : cls, parts, alert, own };
}

// A message's line: {from, text, kind, ts, msgid, reply_to, reactions} as the protocol
// gives it. Tracked lines (the log's own, not search results) can be replied to, reacted
// to and deleted, and are found again by msgid.
function messageLine(tab, m, extra = "", track = true) {
  const { cls, parts, alert, own } = messageParts(m.from, m.text, m.kind);
  const line = makeLine(cls + extra, parts, m.ts);
  if (m.reply_to) line.prepend(quote(tab, m.reply_to));
  if (m.msgid) {
    line.dataset.msgid = m.msgid;
    if (track) {
      line.tabIndex = -1;
      line.dataset.from = m.from;
      const reactions = new Map((m.reactions || []).map((r) => [r.emoji, [...r.from]]));
      tab.byId.set(m.msgid, { from: m.from, text: m.text, line, reactions });
      renderReactions(tab, m.msgid);
    }
  }
  return { line, alert, own };
}

// What a reply answers, shown above it; a button that takes you to it when it is here.
function quote(tab, msgid) {
  const original = tab.byId.get(msgid);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "quote";
  button.dataset.replyTo = msgid;
  if (original) {
    button.append("↪ ", nickSpan(original.from, false), " ", original.text);
    button.setAttribute("aria-label", t("in_reply", { nick: original.from, text: original.text }));
    button.addEventListener("click", () => tab.byId.get(msgid)?.line.focus());
  } else {
    button.textContent = "↪ " + T.reply_unknown;
    button.disabled = true;
  }
  return button;
}

function addMessage(tab, m) {
  // A reconnection replays the room's last messages: skip what is already shown.
  if (m.msgid) {
    if (tab.seen.has(m.msgid)) return;
    tab.seen.add(m.msgid);
  }
  const { line, alert, own } = messageLine(tab, m);
  appendLine(tab, line, { alert, own });
  setTyping(tab, m.from, "done");
  if (!own && (alert || !tab.isRoom) && document.hidden) notify(tab, m.from, m.text);
}

// A desktop notification for a mention or a private message while the page is hidden,
// when the browser allows them.
function notify(tab, from, text) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const title = tab.isRoom ? t("notify_room", { nick: from, room: tab.name }) : t("notify_private", { nick: from });
  try {
    const note = new Notification(title, { body: text, tag: tab.key, icon: "/icon.svg" });
    note.addEventListener("click", () => {
      window.focus();
      showTab(tab);
      note.close();
    });
  } catch {
    // Some browsers (Chrome on Android) show notifications only from a service worker.
  }
}

function showHistory(obj) {
  const tab = tabFor(obj.room);
  if (!tab.oldest && obj.messages.length) {
    tab.oldest = obj.messages[0].msgid;
    tab.more = obj.more;
  }
  for (const m of obj.messages) {
    if (tab.seen.has(m.msgid)) continue;
    tab.seen.add(m.msgid);
    appendLine(tab, messageLine(tab, m, " history").line, { quiet: true });
  }
  tab.olderButton.hidden = !tab.more;
}

function older(tab) {
  request({ type: "history", room: tab.name, before: tab.oldest, limit: 50 }, (reply) => {
    if (reply.type === "error") { problem(reply.text, tab); return; }
    const lines = reply.messages
      .filter((m) => !tab.seen.has(m.msgid))
      .map((m) => { tab.seen.add(m.msgid); return messageLine(tab, m, " history").line; });
    tab.olderButton.after(...lines);
    if (reply.messages.length) tab.oldest = reply.messages[0].msgid;
    tab.more = reply.more;
    tab.olderButton.hidden = !tab.more;
    if (tab.more) tab.olderButton.focus();
  });
}

function search(words) {
  const tab = chat.current;
  if (!tab?.isRoom || !words.trim()) return;
  request({ type: "search", room: tab.name, words, limit: 50 }, (reply) => {
    if (reply.type === "error") { problem(reply.text, tab); return; }
    info(t(reply.messages.length ? "found" : "not_found", { n: reply.messages.length, words, room: tab.name }), tab);
    for (const m of reply.messages) {
      appendLine(tab, messageLine(tab, m, " found", false).line, { quiet: true });
    }
  });
}

function info(text, tab = chat.current) {
  if (!tab) return;
  const span = document.createElement("span");
  span.textContent = "* " + text;
  addLine(tab, "info", [span]);
}

function problem(text, tab = chat.current) {
  if (!tab) return;
  const span = document.createElement("span");
  span.textContent = "! " + text;
  addLine(tab, "error", [span]);
}

function isAtBottom() {
  const log = $("log");
  return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
}

function scrollDown() {
  const log = $("log");
  log.scrollTop = log.scrollHeight;
}

// -- replies, reactions, deleting, typing ----------------------------------------------

function renderReactions(tab, msgid) {
  const entry = tab.byId.get(msgid);
  if (!entry) return;
  let box = entry.line.querySelector(".reactions");
  if (!entry.reactions.size) { box?.remove(); return; }
  if (!box) {
    box = document.createElement("span");
    box.className = "reactions";
    entry.line.append(box);
  }
  box.replaceChildren();
  for (const [emoji, nicks] of entry.reactions) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "reaction";
    const mine = nicks.some((n) => fold(n) === fold(chat.nick));
    button.setAttribute("aria-pressed", String(mine));
    button.setAttribute("aria-label", t("reacted", { emoji, n: nicks.length, nicks: nicks.join(", ") }));
    button.title = nicks.join(", ");
    const glyph = document.createElement("span");
    glyph.className = "emoji";
    glyph.textContent = emoji;
    button.append(glyph, " ", String(nicks.length));
    button.addEventListener("click", () => react(tab, msgid, emoji));
    box.append(button);
  }
}

function addReaction(tab, msgid, emoji, nick) {
  const entry = tab.byId.get(msgid);
  if (!entry) return;
  const nicks = entry.reactions.get(emoji) || [];
  if (nicks.some((n) => fold(n) === fold(nick))) return;
  entry.reactions.set(emoji, [...nicks, nick]);
  renderReactions(tab, msgid);
}

function react(tab, msgid, emoji) {
  const mine = tab.byId.get(msgid)?.reactions.get(emoji)?.some((n) => fold(n) === fold(chat.nick));
  if (mine) return; // the protocol has no taking back a reaction
  request({ type: "react", target: tab.name, msgid, emoji }, (reply) => {
    if (reply.type === "error") problem(reply.text, tab);
    else addReaction(tab, msgid, emoji, chat.nick);
  });
}

// A message taken back (by its sender or an operator) leaves every log it is in.
function removeMessage(tab, msgid) {
  for (const line of tab.log.querySelectorAll(`.line[data-msgid="${Number(msgid)}"]`)) forget(tab, line);
  for (const button of tab.log.querySelectorAll(`.quote[data-reply-to="${Number(msgid)}"]`)) {
    button.replaceWith(quote(tab, msgid));
  }
  if (chat.replyTo?.tab === tab && chat.replyTo.msgid === msgid) cancelReply();
}

function deleteMessage(tab, msgid) {
  if (!window.confirm(T.delete_confirm)) return;
  request({ type: "redact", room: tab.name, msgid, reason: "" }, (reply) => {
    if (reply.type === "error") problem(reply.text, tab);
    else removeMessage(tab, msgid);
  });
}

function startReply(tab, msgid) {
  const original = tab.byId.get(msgid);
  if (!original) return;
  chat.replyTo = { tab, msgid };
  $("reply-to").textContent = t("replying", { nick: original.from });
  $("reply-text").textContent = original.text;
  $("reply-bar").hidden = false;
  $("input").focus();
}

function cancelReply() {
  chat.replyTo = null;
  $("reply-bar").hidden = true;
}

// One toolbar for the message under the pointer or holding the focus: reply, a few quick
// reactions, and delete for our own messages (or any, for a room's operators).
const toolbar = (() => {
  const bar = document.createElement("div");
  bar.className = "toolbar";
  bar.setAttribute("role", "toolbar");
  const make = (cls, text, label, action) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = cls;
    button.textContent = text;
    button.setAttribute("aria-label", label);
    button.title = label;
    button.addEventListener("click", () => {
      const tab = chat.current;
      const msgid = Number(bar.dataset.msgid);
      if (tab && msgid) action(tab, msgid);
    });
    return button;
  };
  // ←/→ move along the toolbar, as ARIA's toolbar pattern has it; Tab works too.
  bar.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    const buttons = [...bar.querySelectorAll("button:not([hidden])")];
    const at = buttons.indexOf(document.activeElement);
    const next = buttons[(at + (e.key === "ArrowLeft" ? -1 : 1) + buttons.length) % buttons.length];
    e.preventDefault();
    next.focus();
  });
  bar.append(
    make("act-reply", "↩", T.reply, startReply),
    ...QUICK_REACTIONS.map((emoji) =>
      make("act-react emoji", emoji, t("react_with", { emoji }), (tab, msgid) => react(tab, msgid, emoji))),
    make("act-delete", "🗑", T.delete, deleteMessage),
  );
  return bar;
})();

function placeToolbar(line) {
  const tab = chat.current;
  const msgid = Number(line?.dataset.msgid);
  if (!tab || !msgid || tab.byId.get(msgid)?.line !== line || toolbar.parentElement === line) return;
  toolbar.dataset.msgid = msgid;
  toolbar.setAttribute("aria-label", T.actions);
  const own = fold(line.dataset.from) === fold(chat.nick);
  toolbar.querySelector(".act-delete").hidden = !tab.isRoom || !(own || tab.operators.has(fold(chat.nick)));
  line.append(toolbar);
}

// Arrow keys in the log move between messages; Tab from one reaches its toolbar.
function logKeys(e) {
  if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return;
  if (e.altKey || !chat.current || toolbar.contains(e.target)) return;
  const lines = [...chat.current.log.querySelectorAll(".line[tabindex]")];
  if (!lines.length) return;
  e.preventDefault();
  const at = lines.indexOf(e.target.closest?.(".line"));
  const next = at < 0
    ? lines[lines.length - 1]
    : lines[Math.max(0, Math.min(lines.length - 1, at + (e.key === "ArrowUp" ? -1 : 1)))];
  next.focus();
}

// Our typing notices: "active" at most every TYPING_EVERY ms while there is text, "done"
// once it is sent or cleared. Commands are not typing anything for others to see.
function typingInput() {
  const value = $("input").value;
  const tab = chat.current;
  if (!tab || !value || (value.startsWith("/") && !value.startsWith("//"))) { typingDone(); return; }
  if (chat.typing.target && fold(chat.typing.target) !== tab.key) typingDone();
  const now = Date.now();
  if (chat.typing.target && now - chat.typing.at < TYPING_EVERY) return;
  chat.typing = { target: tab.name, at: now };
  request({ type: "typing", target: tab.name, state: "active" }, () => {});
}

function typingDone() {
  if (!chat.typing.target) return;
  request({ type: "typing", target: chat.typing.target, state: "done" }, () => {});
  chat.typing = { target: "", at: 0 };
}

// Someone else's typing: "active" lasts TYPING_ACTIVE ms unless renewed, "paused" longer.
function setTyping(tab, nick, state) {
  const key = fold(nick);
  const known = tab.typers.get(key);
  if (!known && state === "done") return;
  clearTimeout(known?.timer);
  if (state === "done") {
    tab.typers.delete(key);
  } else {
    const timer = setTimeout(() => setTyping(tab, nick, "done"), state === "paused" ? TYPING_PAUSED : TYPING_ACTIVE);
    tab.typers.set(key, { nick, timer });
  }
  if (tab === chat.current) renderTyping();
}

function renderTyping() {
  const names = chat.current ? [...chat.current.typers.values()].map((x) => x.nick) : [];
  $("typing").textContent = names.length === 0 ? ""
    : names.length === 1 ? t("typing_one", { nick: names[0] })
    : names.length === 2 ? t("typing_two", { a: names[0], b: names[1] })
    : T.typing_many;
}

// -- connection -------------------------------------------------------------------------

function setState(key, args) {
  const state = $("state");
  state.textContent = t(key, args);
  state.dataset.state = key;
}

function request(obj, onReply) {
  const id = chat.nextId++;
  if (onReply) chat.pending.set(id, onReply);
  if (chat.ws && chat.ws.readyState === WebSocket.OPEN) chat.ws.send(JSON.stringify({ ...obj, id }));
  return id;
}

function connect() {
  clearTimeout(chat.retryTimer);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws`);
  chat.ws = ws;
  chat.pending.clear();
  if (chat.welcomed) setState("connecting");
  ws.addEventListener("open", () => hello());
  ws.addEventListener("message", (e) => {
    let obj;
    try { obj = JSON.parse(e.data); } catch { return; }
    receive(obj);
  });
  ws.addEventListener("close", () => {
    if (chat.ws !== ws) return;
    chat.ws = null;
    if (chat.quitting) { setState("offline"); return; }
    if (!chat.welcomed) {
      loginError(t("unreachable"));
      return;
    }
    retry();
  });
}

function retry() {
  // Exponential backoff with jitter, so a restarted server is not hit by everyone at once.
  const delay = Math.min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** chat.attempts) * (0.5 + Math.random() / 2);
  chat.attempts += 1;
  const until = Date.now() + delay * 1000;
  const tick = () => {
    const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    setState("reconnecting", { s: left });
    if (Date.now() >= until) connect(); else chat.retryTimer = setTimeout(tick, Math.min(1000, until - Date.now()));
  };
  for (const tab of chat.tabs.values()) tab.joined = false;
  tick();
}

function hello() {
  const req = { type: "hello", nick: chat.nick };
  // Kept in this page's memory only, to log in again after a reconnection.
  if (chat.password) req.password = chat.password;
  request(req, (reply) => {
    if (reply.type === "error") {
      if (chat.welcomed && (reply.code === "bad_login" || reply.code === "too_many_failures")) {
        // The password changed elsewhere: retrying would only lock the owner out.
        chat.password = "";
        chat.welcomed = false;
        chat.quitting = true;
        chat.ws.close();
        $("chat").hidden = true;
        $("login").hidden = false;
        loginError(reply.text);
      } else if (chat.welcomed) {
        // Our old session may not be gone yet; try again shortly.
        problem(reply.text);
        chat.ws.close();
      } else {
        loginError(reply.text);
      }
      return;
    }
    welcome(reply);
  });
}

function welcome(reply) {
  const first = !chat.welcomed;
  chat.welcomed = true;
  chat.attempts = 0;
  chat.nick = reply.nick;
  chat.server = reply.server;
  chat.limit = reply.limits?.message_bytes ?? chat.limit;
  chat.title = `${reply.server} · ${reply.nick}`;
  updateTitle();
  setState("connected");
  // The server forgets an away state with the session; say it again after a reconnection.
  if (chat.myAway) request({ type: "away", message: chat.myAway }, () => {});
  for (const state of reply.rooms || []) roomState(state);
  // After a reconnection, go back to every room we were in.
  for (const tab of chat.tabs.values()) {
    if (tab.isRoom && !tab.joined) join(tab.name, false);
  }
  if (first) {
    $("login").hidden = true;
    $("chat").hidden = false;
    showTab(tabFor(reply.rooms?.[0]?.room || DEFAULT_ROOM));
    for (const line of reply.motd || []) info(line);
    info(t("you_are", { nick: chat.nick }));
    $("input").focus();
  } else {
    renderMembers();
  }
}

function roomState(state) {
  const tab = tabFor(state.room);
  tab.joined = true;
  tab.topic = state.topic || "";
  tab.members = [...(state.members || [])];
  tab.operators = new Set((state.operators || []).map(fold));
  tab.voiced = new Set((state.voiced || []).map(fold));
  // The room's list says who of its members is away now; keep what we know of why.
  const away = new Set((state.away || []).map(fold));
  for (const nick of tab.members) {
    const key = fold(nick);
    if (!away.has(key)) chat.away.delete(key);
    else if (!chat.away.has(key)) chat.away.set(key, "");
  }
  if (tab === chat.current) { renderTopic(); renderMembers(); }
}

function join(room, show = true) {
  request({ type: "join", room }, (reply) => {
    if (reply.type === "error") { problem(reply.text); return; }
    roomState(reply);
    if (show) showTab(tabFor(reply.room));
    if (reply.topic) info(t("topic_is", { room: reply.room, topic: reply.topic }), tabFor(reply.room));
  });
}

function loginError(text) {
  $("login-error").textContent = text;
  $("login-button").disabled = false;
  $("nick").setAttribute("aria-invalid", "true");
  $("nick").focus();
}

// -- events from the server ------------------------------------------------------------

function inRoomsOf(nick, fn) {
  for (const tab of chat.tabs.values()) {
    if (tab.isRoom && tab.members.some((m) => fold(m) === fold(nick))) fn(tab);
  }
}

function dropMember(tab, nick) {
  tab.members = tab.members.filter((m) => fold(m) !== fold(nick));
  tab.operators.delete(fold(nick));
  tab.voiced.delete(fold(nick));
  setTyping(tab, nick, "done");
  if (tab === chat.current) renderMembers();
}

// Operator and voice changes, read from IRC-style modes: "+o-v" with ["ana", "bo"].
function applyModes(tab, modes, args) {
  let sign = "+";
  let at = 0;
  for (const letter of modes) {
    if (letter === "+" || letter === "-") { sign = letter; continue; }
    const takesArg = "ovbeIk".includes(letter) || (letter === "l" && sign === "+");
    const arg = takesArg ? args[at++] : undefined;
    if ((letter === "o" || letter === "v") && arg) {
      const set = letter === "o" ? tab.operators : tab.voiced;
      if (sign === "+") set.add(fold(arg)); else set.delete(fold(arg));
    }
  }
  if (tab === chat.current) renderMembers();
}

// The private conversation an event belongs to: the other side's.
function privateTab(obj, create = true) {
  return tabFor(fold(obj.from) === fold(chat.nick) ? obj.to : obj.from, create);
}

function receive(obj) {
  if (obj.id !== undefined && chat.pending.has(obj.id)) {
    const callback = chat.pending.get(obj.id);
    chat.pending.delete(obj.id);
    callback(obj);
    return;
  }
  switch (obj.type) {
    case "message":
      addMessage(tabFor(obj.room), obj);
      break;
    case "history":
      showHistory(obj);
      break;
    case "private":
      addMessage(privateTab(obj), obj);
      break;
    case "react": {
      const tab = obj.room ? tabFor(obj.room, false) : privateTab(obj, false);
      if (tab) addReaction(tab, obj.msgid, obj.emoji, obj.from);
      break;
    }
    case "redact": {
      const tab = tabFor(obj.room, false);
      if (tab) removeMessage(tab, obj.msgid);
      break;
    }
    case "typing": {
      if (fold(obj.from) === fold(chat.nick)) break;
      const tab = obj.room ? tabFor(obj.room, false) : tabFor(obj.from, false);
      if (tab) setTyping(tab, obj.from, obj.state);
      break;
    }
    case "join": {
      const tab = tabFor(obj.room);
      if (!tab.members.some((m) => fold(m) === fold(obj.nick))) tab.members.push(obj.nick);
      if (tab === chat.current) renderMembers();
      info(t("joined", obj), tab);
      break;
    }
    case "part": {
      const tab = tabFor(obj.room);
      dropMember(tab, obj.nick);
      info(t("parted", obj) + (obj.reason ? " " + t("reason", obj) : ""), tab);
      break;
    }
    case "quit":
      inRoomsOf(obj.nick, (tab) => {
        dropMember(tab, obj.nick);
        info(t("quit", obj) + (obj.reason ? " " + t("reason", obj) : ""), tab);
      });
      chat.away.delete(fold(obj.nick));
      break;
    case "nick": {
      // Renamed by the server (someone logged in to the registered nick we were using).
      if (fold(obj.old) === fold(chat.nick)) chat.nick = obj.new;
      renamed(obj.old, obj.new);
      inRoomsOf(obj.new, (tab) => info(t("renamed", obj), tab));
      break;
    }
    case "topic": {
      const tab = tabFor(obj.room);
      tab.topic = obj.topic;
      if (tab === chat.current) renderTopic();
      info(t("topic_set", obj), tab);
      break;
    }
    case "kick": {
      const tab = tabFor(obj.room);
      info(t("kicked", obj) + (obj.reason ? " " + t("reason", obj) : ""), tab);
      if (fold(obj.nick) === fold(chat.nick)) {
        tab.joined = false;
        tab.members = [];
        tab.operators.clear();
        tab.voiced.clear();
      }
      dropMember(tab, obj.nick);
      break;
    }
    case "mode": {
      const tab = tabFor(obj.room);
      applyModes(tab, obj.modes, obj.args || []);
      info(t("mode", { by: obj.by, modes: [obj.modes, ...(obj.args || [])].join(" ") }), tab);
      break;
    }
    case "away":
      awayChanged(obj.nick, obj.message);
      inRoomsOf(obj.nick, (tab) => info(obj.message ? t("away", obj) : t("back", obj), tab));
      break;
    case "invite":
      info(t("invited", obj));
      break;
    case "notice":
      info(obj.text);
      break;
    case "error":
      problem(obj.text);
      break;
    default:
      break;
  }
}

// A nick changed: in member lists, marks, away states and typing notices.
function renamed(old, fresh) {
  const was = fold(old);
  inRoomsOf(old, (tab) => {
    tab.members = tab.members.map((m) => (fold(m) === was ? fresh : m));
    for (const set of [tab.operators, tab.voiced]) {
      if (set.delete(was)) set.add(fold(fresh));
    }
    setTyping(tab, old, "done");
  });
  if (chat.away.has(was)) {
    const message = chat.away.get(was);
    chat.away.delete(was);
    chat.away.set(fold(fresh), message);
  }
  renderMembers();
  updateTitle();
}

function awayChanged(nick, message) {
  if (message) chat.away.set(fold(nick), message); else chat.away.delete(fold(nick));
  if (fold(nick) === fold(chat.nick)) {
    chat.myAway = message || "";
    renderAway();
  }
  renderMembers();
}

function renderAway() {
  const button = $("away-toggle");
  button.setAttribute("aria-pressed", String(Boolean(chat.myAway)));
  button.textContent = chat.myAway ? `${T.away_button}: ${chat.myAway}` : T.away_button;
  button.title = chat.myAway ? t("you_away", { message: chat.myAway }) : "";
}

function setAway(message) {
  request({ type: "away", message }, (reply) => {
    if (reply.type === "error") { problem(reply.text); return; }
    const now = reply.message ?? message; // as the server cleaned it
    awayChanged(chat.nick, now);
    info(now ? t("you_away", { message: now }) : T.you_back);
  });
}

// -- the topic bar: the room's topic, a button that turns into a field to change it ------

function renderTopic() {
  const tab = chat.current;
  const button = $("topic");
  button.hidden = !tab?.isRoom;
  if (!tab?.isRoom) return;
  button.textContent = tab.topic || T.no_topic_set;
  button.classList.toggle("empty", !tab.topic);
  button.setAttribute("aria-label", t("topic_button", { topic: tab.topic || T.no_topic_set }));
}

function openTopicEditor() {
  const tab = chat.current;
  if (!tab?.isRoom) return;
  const field = $("topic-input");
  field.value = tab.topic;
  field.setAttribute("aria-label", t("topic_label", { room: tab.name }));
  $("topic").hidden = true;
  $("topic-form").hidden = false;
  field.focus();
  field.select();
}

function closeTopicEditor() {
  if ($("topic-form").hidden) return;
  $("topic-form").hidden = true;
  renderTopic();
}

function saveTopic() {
  const tab = chat.current;
  const topic = $("topic-input").value.trim();
  closeTopicEditor();
  $("topic").focus();
  if (!tab?.isRoom || topic === tab.topic) return;
  // The server decides who may: operators, or anyone while the room is not +t.
  request({ type: "topic", room: tab.name, topic }, (reply) => {
    if (reply.type === "error") { problem(reply.text, tab); return; }
    tab.topic = reply.topic;
    if (tab === chat.current) renderTopic();
  });
}

// -- what the user types ---------------------------------------------------------------

function needArg(arg, usage) {
  if (!arg) { problem(t("usage", { usage })); return false; }
  return true;
}

function say(text, kind = "message") {
  const tab = chat.current;
  if (!tab) return;
  const req = tab.isRoom
    ? { type: "say", room: tab.name, text, kind }
    : { type: "tell", to: tab.name, text, kind };
  if (chat.replyTo?.tab === tab) req.reply_to = chat.replyTo.msgid;
  cancelReply();
  typingDone();
  request(req, (reply) => {
    if (reply.type === "error") problem(reply.text, tab);
    else addMessage(tab, { from: chat.nick, text, kind, ts: reply.ts, msgid: reply.msgid, reply_to: req.reply_to });
  });
}

const COMMANDS = {
  join(arg) {
    if (!needArg(arg, "/join #room")) return;
    join(arg.startsWith("#") ? arg : "#" + arg);
  },
  part(arg) {
    const tab = chat.current;
    if (!tab) return;
    if (!tab.isRoom) { closeTab(tab); return; }
    request({ type: "part", room: tab.name, reason: arg }, (reply) => {
      if (reply.type === "error") problem(reply.text);
      else closeTab(tab);
    });
  },
  nick(arg) {
    if (!needArg(arg, "/nick NEW")) return;
    request({ type: "nick", nick: arg }, (reply) => {
      if (reply.type === "error") { problem(reply.text); return; }
      const old = chat.nick;
      chat.nick = reply.nick;
      chat.title = `${chat.server} · ${reply.nick}`;
      renamed(old, reply.nick);
      info(t("renamed", { old, new: reply.nick }));
    });
  },
  msg(arg) {
    const [to, ...rest] = arg.split(" ");
    const text = rest.join(" ");
    if (!needArg(to && text, "/msg NICK TEXT")) return;
    const tab = tabFor(to);
    request({ type: "tell", to, text }, (reply) => {
      if (reply.type === "error") problem(reply.text);
      else addMessage(tab, { from: chat.nick, text, kind: "message", ts: reply.ts, msgid: reply.msgid });
    });
  },
  query(arg) {
    if (!needArg(arg, "/query NICK")) return;
    showTab(tabFor(arg.split(" ")[0]));
  },
  close() {
    if (chat.current?.isRoom) COMMANDS.part("");
    else if (chat.current) closeTab(chat.current);
  },
  me(arg) {
    if (needArg(arg, "/me TEXT")) say(arg, "action");
  },
  topic(arg) {
    const tab = chat.current;
    if (!tab?.isRoom) return;
    const req = { type: "topic", room: tab.name };
    if (arg) req.topic = arg;
    request(req, (reply) => {
      if (reply.type === "error") { problem(reply.text); return; }
      tab.topic = reply.topic;
      if (tab === chat.current) renderTopic();
      if (!arg) info(reply.topic ? t("topic_is", { room: reply.room, topic: reply.topic }) : t("no_topic", reply));
    });
  },
  who(arg) {
    const room = arg || chat.current?.name;
    if (!room?.startsWith("#")) return;
    request({ type: "who", room }, (reply) => {
      if (reply.type === "error") { problem(reply.text); return; }
      info(t("who", { room: reply.room, n: reply.members.length, names: reply.members.join(" ") }));
    });
  },
  rooms() {
    request({ type: "rooms" }, (reply) => {
      if (reply.type === "error") { problem(reply.text); return; }
      for (const r of reply.rooms) info(t("rooms_line", { room: r.room, n: r.members, topic: r.topic }));
    });
  },
  register(arg) {
    if (!needArg(arg, "/register PASSWORD")) return;
    request({ type: "register", password: arg }, (reply) => {
      if (reply.type === "error") problem(reply.text);
      else { chat.password = arg; info(t("registered", { nick: reply.account })); }
    });
  },
  login(arg) {
    const [nick, password] = arg.split(" ");
    if (!needArg(nick && password, "/login NICK PASSWORD")) return;
    request({ type: "login", nick, password }, (reply) => {
      if (reply.type === "error") { problem(reply.text); return; }
      chat.nick = reply.nick;
      chat.password = password;
      info(t("logged_in", { account: reply.account }));
    });
  },
  password(arg) {
    const [old, fresh] = arg.split(" ");
    if (!needArg(old && fresh, "/password OLD NEW")) return;
    request({ type: "password", old, new: fresh }, (reply) => {
      if (reply.type === "error") problem(reply.text);
      else { chat.password = fresh; info(t("password_changed")); }
    });
  },
  search(arg) {
    if (needArg(arg, "/search WORDS")) search(arg);
  },
  away(arg) {
    // "/away lunch" goes away, a bare "/away" comes back, as on IRC and in the terminal.
    setAway(arg);
  },
  history() {
    const tab = chat.current;
    if (tab?.isRoom && tab.more) older(tab);
  },
  help() {
    for (const c of chat.commands) {
      info(`/${c.name}${c.args[LANG] ? " " + c.args[LANG] : ""} · ${c.help[LANG]}`);
    }
    info(T.keys);
    info(T.keys_log);
  },
  quit(arg) {
    chat.quitting = true;
    request({ type: "quit", reason: arg });
    setState("offline");
  },
};

// The names, aliases, synopses and help come from the server's one registry
// (protocols/slash.py), served as /commands.json; this page keeps only the handlers.
async function loadCommands() {
  try {
    const reply = await fetch("/commands.json");
    const { commands } = await reply.json();
    chat.commands = commands.filter((c) => c.where.includes("web"));
    chat.aliases = new Map(chat.commands.flatMap((c) => c.aliases.map((a) => [a, c.name])));
  } catch {
    // Without the list, commands still work by their own names; only help and Tab miss it.
  }
}

function submit(line) {
  if (!line.trim()) return;
  chat.history.push(line);
  chat.historyAt = chat.history.length;
  if (line.startsWith("/") && !line.startsWith("//")) {
    const [cmd, ...rest] = line.slice(1).split(" ");
    const name = chat.aliases.get(cmd.toLowerCase()) ?? cmd.toLowerCase();
    const handler = COMMANDS[name];
    const known = chat.commands.find((c) => c.name === name);
    if (handler && Object.hasOwn(COMMANDS, name)) handler(rest.join(" ").trim());
    else if (known?.request) moderate(known, rest.join(" ").trim());
    else problem(t("unknown", { cmd }));
    return;
  }
  if (line === "#LOGOUT") { COMMANDS.quit(""); return; }
  say(line.startsWith("//") ? line.slice(1) : line);
}

// Commands that are one request of their own type (moderation) need no handler here: the
// registry names the request's fields; "room" is the room on screen, the last field takes
// the rest of the line. The reply is shown as it comes.
function moderate(command, arg) {
  const words = command.request.filter((f) => f !== "room");
  const parts = arg ? arg.split(/\s+/) : [];
  const req = { type: command.name };
  words.forEach((field, i) => {
    const value = i === words.length - 1 ? parts.slice(i).join(" ") : parts[i];
    if (value) req[field] = value;
  });
  const tab = chat.current;
  if (command.request.includes("room")) {
    if (!tab?.isRoom) return;
    req.room = tab.name;
  }
  request(req, (reply) => {
    if (reply.type === "error") { problem(reply.text, tab); return; }
    if (reply.bans && !reply.room) {
      info(`${t("done")}: ${reply.bans.length}`, tab);
      for (const b of reply.bans) info(`${b.mask} · ${b.by}: ${b.reason}`, tab);
      return;
    }
    const shown = Object.entries(reply)
      .filter(([k, v]) => !["type", "id"].includes(k) && v !== "" && typeof v !== "object")
      .map(([, v]) => v);
    info(`${t("done")}${shown.length ? ": " + shown.join(" · ") : ""}`, tab);
  });
}

function complete(input) {
  // Tab completes a command that starts the line, else a nick of the current room; with
  // nothing to complete, Tab moves focus.
  const upto = input.value.slice(0, input.selectionStart);
  const word = upto.split(" ").pop();
  if (!word || !chat.current) return false;
  const start = upto.length - word.length;
  const command = start === 0 && word.startsWith("/");
  const names = command
    ? chat.commands.map((c) => "/" + c.name)
    : chat.current.isRoom ? chat.current.members : [chat.current.name];
  const match = names.find((n) => fold(n).startsWith(fold(word)) && fold(n) !== fold(chat.nick));
  if (!match) return false;
  const suffix = start === 0 && !command ? ": " : " ";
  input.value = input.value.slice(0, start) + match + suffix + input.value.slice(upto.length);
  const at = start + match.length + suffix.length;
  input.setSelectionRange(at, at);
  return true;
}

function moveTab(step) {
  const tabs = [...chat.tabs.values()];
  if (!tabs.length) return;
  const at = tabs.indexOf(chat.current);
  showTab(tabs[(at + step + tabs.length) % tabs.length]);
}

function setMembersPanel(open) {
  $("members-toggle").setAttribute("aria-expanded", String(open));
  $("members").classList.toggle("open", open);
}

function closeMembersPanel() {
  setMembersPanel(false);
}

// -- wiring -----------------------------------------------------------------------------

function start() {
  document.documentElement.lang = LANG;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = T[el.dataset.i18n];
  for (const el of document.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", T[el.dataset.i18nLabel]);
  }
  $("input").setAttribute("aria-label", T.message);
  $("search").setAttribute("aria-label", T.search);
  $("search").placeholder = T.search;

  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const nick = $("nick").value.trim();
    if (!nick) { loginError(t("empty_nick")); return; }
    chat.nick = nick;
    chat.password = $("password").value;
    chat.quitting = false;
    $("login-error").textContent = "";
    $("nick").removeAttribute("aria-invalid");
    $("login-button").disabled = true;
    // Ask once, on this click, whether mentions and private messages may notify.
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
    if (chat.ws && chat.ws.readyState === WebSocket.OPEN) hello(); else connect();
  });

  $("send-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("input");
    const line = input.value;
    input.value = "";
    submit(line);
  });

  $("input").addEventListener("input", typingInput);
  $("input").addEventListener("keydown", (e) => {
    const input = e.target;
    if (e.key === "Escape" && chat.replyTo) {
      cancelReply();
    } else if (e.key === "Tab" && !e.shiftKey && complete(input)) {
      e.preventDefault();
    } else if (e.key === "ArrowUp" && !e.altKey && chat.historyAt > 0) {
      e.preventDefault();
      chat.historyAt -= 1;
      input.value = chat.history[chat.historyAt];
    } else if (e.key === "ArrowDown" && !e.altKey && chat.historyAt < chat.history.length) {
      e.preventDefault();
      chat.historyAt += 1;
      input.value = chat.history[chat.historyAt] ?? "";
    }
  });

  document.addEventListener("keydown", (e) => {
    if (!chat.welcomed) return;
    if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
      e.preventDefault();
      moveTab(e.key === "ArrowUp" ? -1 : 1);
    } else if (e.key === "Escape" && document.activeElement !== $("input")) {
      setMembersPanel(false);
      $("input").focus();
    }
  });

  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    search($("search").value);
  });

  $("members-toggle").addEventListener("click", () => {
    const open = $("members-toggle").getAttribute("aria-expanded") !== "true";
    setMembersPanel(open);
  });

  $("reply-cancel").addEventListener("click", () => { cancelReply(); $("input").focus(); });
  $("reply-cancel").setAttribute("aria-label", T.cancel_reply);
  $("reply-cancel").title = T.cancel_reply;

  $("away-toggle").addEventListener("click", () => setAway(chat.myAway ? "" : T.away_default));
  renderAway();

  $("topic").addEventListener("click", openTopicEditor);
  $("topic").addEventListener("keydown", (e) => {
    // Opened on keydown, so that this Enter's keypress does not submit the new field.
    if (e.key !== "Enter") return;
    e.preventDefault();
    openTopicEditor();
  });
  $("topic-form").addEventListener("submit", (e) => { e.preventDefault(); saveTopic(); });
  $("topic-input").addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    e.stopPropagation();
    closeTopicEditor();
    $("topic").focus();
  });
  $("topic-input").addEventListener("blur", () => closeTopicEditor());

  const log = $("log");
  // The toolbar follows the pointer, and the focus when it moves to another message.
  log.addEventListener("mouseover", (e) => placeToolbar(e.target.closest?.(".line")));
  log.addEventListener("focusin", (e) => placeToolbar(e.target.closest?.(".line")));
  log.addEventListener("keydown", logKeys);

  // Coming back to a hidden page is coming back to its room: mark where we left off.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && chat.current?.unread) showTab(chat.current);
  });

  $("nick").focus();
}

// Tests and curious readers can reach the palette function and the command handlers.
window.tertulia = {
  nickColour,
  PALETTE,
  handles: (name) =>
    Object.hasOwn(COMMANDS, name) || chat.commands.some((c) => c.name === name && c.request),
};
start();
loadCommands();
