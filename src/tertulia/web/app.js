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
const fold = (name) => name.toLowerCase();
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
};

// -- tabs: one per room, one per private conversation --------------------------------

function tabFor(name, create = true) {
  const key = fold(name);
  let tab = chat.tabs.get(key);
  if (!tab && create) {
    tab = {
      key, name, isRoom: name.startsWith("#"), topic: "", members: [], unread: 0,
      mentioned: false, log: document.createElement("div"), joined: false,
      seen: new Set(), oldest: 0, more: false, olderButton: document.createElement("button"),
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
}

function showTab(tab) {
  chat.current = tab;
  tab.unread = 0;
  tab.mentioned = false;
  $("log").replaceChildren(tab.log);
  $("title").textContent = tab.isRoom ? tab.name : t("private_with", { nick: tab.name });
  $("topic").textContent = tab.topic;
  renderTabs();
  renderMembers();
  scrollDown();
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

function renderMembers() {
  const list = $("member-list");
  list.replaceChildren();
  const tab = chat.current;
  if (!tab) return;
  const names = tab.isRoom ? tab.members : [chat.nick, tab.name];
  for (const nick of [...names].sort((a, b) => fold(a).localeCompare(fold(b)))) {
    const item = document.createElement("li");
    item.className = "nick c-" + nickColour(nick);
    item.textContent = nick;
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
  return new RegExp(`(^|[^\\w])${escaped}($|[^\\w])`, "i").test(text);
}

function makeLine(kind, parts, ts) {
  const line = document.createElement("div");
  line.className = "line " + kind;
  line.append(clock(ts), " ", ...parts);
  return line;
}

function addLine(tab, kind, parts, { ts = 0, alert = false, own = false, quiet = false } = {}) {
  const line = makeLine(kind, parts, ts);
  const atBottom = isAtBottom();
  tab.log.append(line);
  // Long sessions stay light: keep the last lines only.
  while (tab.log.childElementCount > 2000) tab.log.querySelector(".line").remove();
  if (tab !== chat.current && kind !== "info" && !own && !quiet) {
    tab.unread += 1;
    tab.mentioned ||= alert;
    renderTabs();
  } else if (atBottom) {
    scrollDown();
  }
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

function addMessage(tab, from, text, kind, ts, msgid = 0) {
  // A reconnection replays the room's last messages: skip what is already shown.
  if (msgid) {
    if (tab.seen.has(msgid)) return;
    tab.seen.add(msgid);
  }
  const { cls, parts, alert, own } = messageParts(from, text, kind);
  addLine(tab, cls, parts, { ts, alert, own });
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
    const { cls, parts } = messageParts(m.from, m.text, m.kind);
    addLine(tab, cls + " history", parts, { ts: m.ts, quiet: true });
  }
  tab.olderButton.hidden = !tab.more;
}

function older(tab) {
  request({ type: "history", room: tab.name, before: tab.oldest, limit: 50 }, (reply) => {
    if (reply.type === "error") { problem(reply.text, tab); return; }
    const lines = reply.messages.map((m) => {
      const { cls, parts } = messageParts(m.from, m.text, m.kind);
      return makeLine(cls + " history", parts, m.ts);
    });
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
      const { cls, parts } = messageParts(m.from, m.text, m.kind);
      addLine(tab, cls + " found", parts, { ts: m.ts, quiet: true });
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
  document.title = `${reply.server} · ${reply.nick}`;
  setState("connected");
  for (const state of reply.rooms || []) roomState(state);
  // After a reconnection, go back to every room we were in.
  for (const tab of chat.tabs.values()) {
    if (tab.isRoom && !tab.joined) join(tab.name, false);
  }
  if (first) {
    $("login").hidden = true;
    $("chat").hidden = false;
    showTab(tabFor(reply.rooms?.[0]?.room || DEFAULT_ROOM));
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
  if (tab === chat.current) { $("topic").textContent = tab.topic; renderMembers(); }
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
  if (tab === chat.current) renderMembers();
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
      addMessage(tabFor(obj.room), obj.from, obj.text, obj.kind, obj.ts, obj.msgid);
      break;
    case "history":
      showHistory(obj);
      break;
    case "private": {
      const other = fold(obj.from) === fold(chat.nick) ? obj.to : obj.from;
      addMessage(tabFor(other), obj.from, obj.text, obj.kind, obj.ts);
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
      break;
    case "nick":
      // Renamed by the server (someone logged in to the registered nick we were using).
      if (fold(obj.old) === fold(chat.nick)) chat.nick = obj.new;
      inRoomsOf(obj.old, (tab) => {
        tab.members = tab.members.map((m) => (fold(m) === fold(obj.old) ? obj.new : m));
        info(t("renamed", obj), tab);
      });
      renderMembers();
      break;
    case "topic": {
      const tab = tabFor(obj.room);
      tab.topic = obj.topic;
      if (tab === chat.current) $("topic").textContent = obj.topic;
      info(t("topic_set", obj), tab);
      break;
    }
    case "kick": {
      const tab = tabFor(obj.room);
      info(t("kicked", obj) + (obj.reason ? " " + t("reason", obj) : ""), tab);
      if (fold(obj.nick) === fold(chat.nick)) { tab.joined = false; tab.members = []; }
      dropMember(tab, obj.nick);
      break;
    }
    case "mode":
      info(t("mode", { by: obj.by, modes: [obj.modes, ...(obj.args || [])].join(" ") }), tabFor(obj.room));
      break;
    case "away":
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
  request(req, (reply) => {
    if (reply.type === "error") problem(reply.text, tab);
    else addMessage(tab, chat.nick, text, kind, reply.ts, reply.msgid);
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
      inRoomsOf(old, (tab) => {
        tab.members = tab.members.map((m) => (fold(m) === fold(old) ? reply.nick : m));
      });
      info(t("renamed", { old, new: reply.nick }));
      renderMembers();
    });
  },
  msg(arg) {
    const [to, ...rest] = arg.split(" ");
    const text = rest.join(" ");
    if (!needArg(to && text, "/msg NICK TEXT")) return;
    const tab = tabFor(to);
    request({ type: "tell", to, text }, (reply) => {
      if (reply.type === "error") problem(reply.text);
      else addMessage(tab, chat.nick, text, "message", reply.ts);
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
      $("topic").textContent = reply.topic;
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
  history() {
    const tab = chat.current;
    if (tab?.isRoom && tab.more) older(tab);
  },
  help() {
    for (const c of chat.commands) {
      info(`/${c.name}${c.args[LANG] ? " " + c.args[LANG] : ""} · ${c.help[LANG]}`);
    }
    info(T.keys);
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
    if (chat.ws && chat.ws.readyState === WebSocket.OPEN) hello(); else connect();
  });

  $("send-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("input");
    const line = input.value;
    input.value = "";
    submit(line);
  });

  $("input").addEventListener("keydown", (e) => {
    const input = e.target;
    if (e.key === "Tab" && !e.shiftKey && complete(input)) {
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
    } else if (e.key === "Escape") {
      $("input").focus();
    }
  });

  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    search($("search").value);
  });

  $("members-toggle").addEventListener("click", () => {
    const toggle = $("members-toggle");
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    $("members").classList.toggle("open", open);
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
