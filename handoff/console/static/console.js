// The agent console in the browser: keeps the pages live over one WebSocket (reconnecting by
// itself), ticks the waiting times, counts unread messages, alerts the agent (notification,
// a short tone, the tab title), and makes the keyboard enough for a whole shift (shortcuts, a
// `?` overlay, Enter to send, `/` for canned answers, a draft per conversation).
// Text from customers is only ever inserted with textContent, never as HTML.
"use strict";
(function () {
  const body = document.body;
  const pageKind = body.dataset.page;
  const openSender = body.dataset.sender || "";
  const status = document.getElementById("connection");
  const baseTitle = document.title;
  let delay = 1000;
  let cursor = body.dataset.cursor || "";  // the agent's inbox, read up to here
  let beat = null;
  let knownWaiting = null;  // the waiting chats of the last snapshot (to spot new ones)

  // --- Small helpers ---------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clockText(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function chatUrl(senderId) {
    return "/console/chat/" + encodeURIComponent(senderId);
  }

  function store(key, value) {
    try {
      if (value === null) localStorage.removeItem(key); else localStorage.setItem(key, value);
    } catch (e) { /* private mode: no drafts */ }
  }

  function stored(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }

  // --- Unread counts and the tab title ---------------------------------------------------

  const UNREAD = "switchboard.console.unread";

  function unread() {
    try { return JSON.parse(stored(UNREAD) || "{}"); } catch (e) { return {}; }
  }

  function setUnread(map) {
    store(UNREAD, JSON.stringify(map));
    showUnread();
  }

  function showUnread() {
    const map = unread();
    let total = 0;
    document.querySelectorAll("#mine .row").forEach((row) => {
      const count = map[row.dataset.sender] || 0;
      total += count;
      const badge = row.querySelector(".unread");
      if (!badge) return;
      badge.hidden = count === 0;
      badge.textContent = String(count);
      badge.setAttribute("aria-label", count + " unread");
    });
    document.title = (total ? "(" + total + ") " : "") + baseTitle;
  }

  if (openSender) {  // reading a conversation reads its messages
    const map = unread();
    delete map[openSender];
    setUnread(map);
  }

  // --- Alerts: desktop notification, a short tone, an on-page toast ----------------------

  const ALERTS = "switchboard.console.alerts";
  const alertSwitch = document.getElementById("alerts");
  let audio = null;

  function alertsOn() {
    return stored(ALERTS) !== "off";
  }

  if (alertSwitch) {
    alertSwitch.checked = alertsOn();
    alertSwitch.addEventListener("change", () => {
      store(ALERTS, alertSwitch.checked ? "on" : "off");
      if (alertSwitch.checked && "Notification" in window &&
          Notification.permission === "default") {
        Notification.requestPermission();
      }
    });
  }
  // Browsers ask for permission (and allow sound) only after the agent did something.
  document.addEventListener("pointerdown", unlockAlerts, { once: true });
  document.addEventListener("keydown", unlockAlerts, { once: true });

  function unlockAlerts() {
    if (!alertsOn()) return;
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission();
    }
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    } catch (e) { audio = null; }
  }

  function tone() {
    // Two short sine notes from the Web Audio API: no sound file to ship.
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const now = audio.currentTime;
      [[880, 0], [1320, 0.12]].forEach(([frequency, start]) => {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, now + start);
        gain.gain.exponentialRampToValueAtTime(0.2, now + start + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, now + start + 0.11);
        osc.connect(gain).connect(audio.destination);
        osc.start(now + start);
        osc.stop(now + start + 0.12);
      });
    } catch (e) { /* no audio device: the notification and the toast still show */ }
  }

  function toast(text) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = el("p", "toast", text);
    box.appendChild(item);
    setTimeout(() => item.remove(), 8000);
  }

  function alertAgent(title, text, senderId) {
    toast(title + (text ? ": " + text : ""));
    if (!alertsOn()) return;
    tone();
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        const note = new Notification(title, { body: text || "", tag: senderId || title });
        note.onclick = () => {
          window.focus();
          if (senderId) location.href = chatUrl(senderId);
        };
      } catch (e) { /* some browsers allow notifications from a service worker only */ }
    }
  }

  // --- The conversation lists ------------------------------------------------------------

  function timer(waited, target) {
    const span = el("span", "timer", clockText(waited));
    span.dataset.waited = String(waited);
    span.dataset.target = String(target);
    return span;
  }

  function rowState(li, waited, target) {
    li.classList.toggle("near", waited > 0.75 * target && waited <= target);
    li.classList.toggle("breach", waited > target);
  }

  function buildRow(r, kind) {
    const li = el("li", "row");
    li.dataset.sender = r.sender_id;
    const held = kind === "mine" || (kind === "all" && r.agent);
    const waited = held ? r.waiting_reply_seconds : r.waiting_seconds;
    const target = r.target_seconds;  // its skill's: first reply while queued, next when held
    const top = el("span", "row__top");
    top.appendChild(el("span", "who", r.customer || ""));
    if (waited !== null && waited !== undefined) {
      top.appendChild(timer(waited, target));
      rowState(li, waited, target);
    }
    const meta = el("span", "row__meta");
    meta.appendChild(el("span", "channel channel--" + r.channel, r.channel));
    meta.appendChild(el("span", "skill", r.skill || ""));
    if (r.agent) meta.appendChild(el("span", "holder", "with " + r.agent));
    const last = el("span", "last", r.last_customer_text || "");
    if (kind === "mine") {
      const badge = el("span", "unread");
      badge.hidden = true;
      top.appendChild(badge);
      const link = el("a", "row__link");
      link.href = chatUrl(r.sender_id);
      if (r.sender_id === openSender) link.setAttribute("aria-current", "page");
      link.append(top, meta, last);
      li.appendChild(link);
    } else {
      const inner = el("div", "row__body");
      inner.append(top, meta, last);
      li.appendChild(inner);
      if (!r.agent) li.appendChild(pickForm(r));
    }
    return li;
  }

  function pickForm(r) {
    const form = el("form", "pick");
    form.method = "post";
    form.action = "/console/pick";
    for (const [name, value] of [["csrf", body.dataset.csrf], ["sender_id", r.sender_id]]) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.appendChild(input);
    }
    const button = el("button", "", "Pick");
    button.setAttribute("aria-label", "Pick the chat of " + (r.customer || r.sender_id));
    form.appendChild(button);
    return form;
  }

  function fillList(id, rows, kind) {
    const list = document.getElementById(id);
    if (!list) return;
    const focused = document.activeElement && list.contains(document.activeElement)
      ? document.activeElement.closest(".row") : null;
    const keep = focused ? focused.dataset.sender : null;
    list.replaceChildren(...rows.map((r) => buildRow(r, kind)));
    const count = document.getElementById("count-" + id);
    if (count) count.textContent = String(rows.length);
    if (keep) {  // the live refresh does not steal the agent's focus
      const again = list.querySelector('.row[data-sender="' + CSS.escape(keep) + '"] a, ' +
        '.row[data-sender="' + CSS.escape(keep) + '"] button');
      if (again) again.focus();
    }
  }

  function showLists(snapshot) {
    body.dataset.snapshots = String(Number(body.dataset.snapshots || 0) + 1);
    fillList("mine", snapshot.mine, "mine");
    fillList("queue", snapshot.queue, "queue");
    if (snapshot.all) fillList("all", snapshot.all, "all");
    showUnread();
    const waiting = new Set(snapshot.queue.map((r) => r.sender_id));
    if (knownWaiting !== null) {
      for (const r of snapshot.queue) {
        if (!knownWaiting.has(r.sender_id)) {
          alertAgent("New chat waiting (" + r.skill + ")", r.last_customer_text, null);
        }
      }
    }
    knownWaiting = waiting;
    const me = snapshot.agents.find((a) => a.agent_id === snapshot.agent);
    const select = document.getElementById("status");
    if (me && select && (me.status === "online" || me.status === "away") &&
        document.activeElement !== select) {
      select.value = me.status;
    }
    const team = document.getElementById("team");
    if (team) {
      team.replaceChildren(...snapshot.agents.map((a) => {
        const li = el("li");
        li.appendChild(el("span", "", a.agent_id));
        li.appendChild(el("span", "status status--" + a.status,
          a.status + " · " + a.load + "/" + a.capacity));
        return li;
      }));
    }
    const counts = document.getElementById("skill-counts");
    if (counts) {
      counts.replaceChildren(...Object.entries(snapshot.skills).map(([skill, s]) => {
        const li = el("li");
        li.appendChild(el("span", "", skill));
        li.appendChild(el("span", "", s.waiting + " waiting"));
        return li;
      }));
    }
  }

  // Waiting times tick every second between snapshots.
  const started = Date.now();
  setInterval(() => {
    const elapsed = (Date.now() - started) / 1000;
    document.querySelectorAll(".timer").forEach((span) => {
      if (!span.dataset.base) span.dataset.base = String(elapsed);
      const waited = Number(span.dataset.waited) + elapsed - Number(span.dataset.base);
      span.textContent = clockText(waited);
      const row = span.closest(".row");
      if (row) rowState(row, waited, Number(span.dataset.target));
    });
  }, 1000);

  // Tabs: arrow keys move between them (the ARIA tabs pattern).
  const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
  function selectTab(tab) {
    for (const other of tabs) {
      const chosen = other === tab;
      other.setAttribute("aria-selected", chosen ? "true" : "false");
      other.tabIndex = chosen ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !chosen;
    }
  }
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => selectTab(tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
      if (!step) return;
      event.preventDefault();
      const next = tabs[(i + step + tabs.length) % tabs.length];
      selectTab(next);
      next.focus();
    });
  });

  // --- The supervisor board --------------------------------------------------------------

  function cells(row, texts) {
    for (const text of texts) row.appendChild(el("td", "", text));
  }

  function duration(seconds) {  // as the server writes it (pages.py _duration)
    if (seconds >= 3600) {
      return Math.floor(seconds / 3600) + " h " + Math.floor(seconds % 3600 / 60) + " min";
    }
    return Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
  }

  function level(today) {  // "92% of 25", or a dash when nobody queued today
    if (!today || today.service_level === null || today.service_level === undefined) return "-";
    return Math.round(100 * today.service_level) + "% of " + (today.responses + today.unanswered);
  }

  function showSupervisor(snapshot) {
    body.dataset.snapshots = String(Number(body.dataset.snapshots || 0) + 1);
    const skills = document.querySelector("#skills tbody");
    const today = snapshot.service_today || {};
    skills.replaceChildren();
    for (const [skill, s] of Object.entries(snapshot.skills)) {
      const row = document.createElement("tr");
      cells(row, [skill, String(s.waiting), duration(s.longest_wait),
        s.first_target + " s / " + s.next_target + " s",
        String(s.over_first || 0), String(s.over_next || 0), level(today[skill])]);
      if (s.over_first || s.over_next) row.className = "breach";
      skills.appendChild(row);
    }
    const agents = document.querySelector("#agents tbody");
    agents.replaceChildren();
    for (const a of snapshot.agents) {
      const row = document.createElement("tr");
      cells(row, [a.agent_id, a.status, duration(a.status_seconds),
        a.load + "/" + a.capacity, a.skills.join(", "), a.seen_seconds + " s ago"]);
      agents.appendChild(row);
    }
  }

  // --- A conversation --------------------------------------------------------------------

  const transcript = document.getElementById("transcript");

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach((t) => {
      const when = new Date(t.getAttribute("datetime"));
      if (!isNaN(when)) {
        t.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      }
    });
  }
  localTimes(document);

  function addBubble(kind, author, text) {
    if (!transcript) return;
    const item = el("li", "bubble bubble--" + kind);
    item.appendChild(el("span", "author", author));
    item.appendChild(el("span", "text", text));
    const meta = el("span", "meta");
    const when = document.createElement("time");
    const now = new Date();
    when.dateTime = now.toISOString();
    when.textContent = now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    meta.appendChild(when);
    item.appendChild(meta);
    transcript.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  if (transcript && transcript.lastElementChild) {
    transcript.lastElementChild.scrollIntoView({ block: "end" });
  }

  function showMessage(message) {
    const mineRow = document.querySelector('#mine .row[data-sender="' +
      CSS.escape(message.sender_id) + '"]');
    if (mineRow) {
      const last = mineRow.querySelector(".last");
      if (last) last.textContent = message.text;
    }
    const here = pageKind === "chat" && message.sender_id === openSender;
    if (here) {
      addBubble(message.author === "customer" ? "customer" : message.author,
        message.author === "customer" ? "Customer" : message.author, message.text);
    }
    if (!here || document.hidden) {
      if (!here) {
        const map = unread();
        map[message.sender_id] = (map[message.sender_id] || 0) + 1;
        setUnread(map);
      }
      alertAgent("New message", message.text, message.sender_id);
    }
  }

  // The composer: Enter sends, Shift+Enter breaks the line, a draft per conversation, `/`
  // opens the canned answers.
  const reply = document.getElementById("reply");
  const text = document.getElementById("reply-text");
  const canned = document.getElementById("canned-list");
  const DRAFT = "switchboard.console.draft." + openSender;
  let active = -1;

  function cannedOptions() {
    return canned ? Array.from(canned.querySelectorAll('[role="option"]'))
      .filter((o) => !o.hidden) : [];
  }

  function cannedOpen() {
    return canned && !canned.hidden;
  }

  function closeCanned() {
    if (!canned) return;
    canned.hidden = true;
    text.removeAttribute("aria-activedescendant");
    text.setAttribute("aria-expanded", "false");
    active = -1;
  }

  function markActive(index) {
    const options = cannedOptions();
    options.forEach((o, i) => o.setAttribute("aria-selected", i === index ? "true" : "false"));
    active = index;
    if (options[index]) {
      text.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    }
  }

  function filterCanned() {
    const match = /^\/(\S*)$/.exec(text.value);
    if (!match || !canned) { closeCanned(); return; }
    const typed = match[1].toLowerCase();
    const all = Array.from(canned.querySelectorAll('[role="option"]'));
    // Answers whose name matches first; only when none does, answers whose text does.
    let hits = all.filter((o) => o.dataset.key.toLowerCase().includes(typed));
    if (!hits.length && typed.length > 2) {
      hits = all.filter((o) => o.dataset.text.toLowerCase().includes(typed));
    }
    all.forEach((o) => { o.hidden = !hits.includes(o); });
    const shown = hits.length;
    canned.hidden = shown === 0;
    text.setAttribute("aria-expanded", shown ? "true" : "false");
    markActive(shown ? 0 : -1);
  }

  function chooseCanned(option) {
    text.value = option.dataset.text;
    closeCanned();
    store(DRAFT, text.value);
    text.focus();
  }

  if (reply && text) {
    text.value = stored(DRAFT) || "";
    text.focus();
    text.addEventListener("input", () => {
      store(DRAFT, text.value || null);
      filterCanned();
    });
    text.addEventListener("keydown", (event) => {
      if (cannedOpen()) {
        const options = cannedOptions();
        if (event.key === "ArrowDown" || event.key === "ArrowUp") {
          event.preventDefault();
          const step = event.key === "ArrowDown" ? 1 : -1;
          markActive((active + step + options.length) % options.length);
          return;
        }
        if ((event.key === "Enter" || event.key === "Tab") && options[active]) {
          event.preventDefault();
          chooseCanned(options[active]);
          return;
        }
        if (event.key === "Escape") {
          event.preventDefault();
          closeCanned();
          return;
        }
      }
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (text.value.trim()) reply.requestSubmit();
      }
    });
    if (canned) {
      canned.addEventListener("mousedown", (event) => {
        const option = event.target.closest('[role="option"]');
        if (option) {
          event.preventDefault();
          chooseCanned(option);
        }
      });
    }
    reply.addEventListener("submit", () => store(DRAFT, null));
  }

  // --- Keyboard shortcuts and the `?` overlay ---------------------------------------------

  const help = document.getElementById("help");
  const helpButton = document.getElementById("help-open");
  function openHelp() {
    if (help && !help.open) help.showModal();
  }
  if (helpButton) helpButton.addEventListener("click", openHelp);

  function typing(target) {
    return target && (target.isContentEditable ||
      ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  function goConversation(step) {
    const links = Array.from(document.querySelectorAll("#mine .row a"));
    if (!links.length) return;
    const here = links.findIndex((a) => a.getAttribute("aria-current") === "page");
    const next = here === -1 ? (step > 0 ? 0 : links.length - 1)
      : (here + step + links.length) % links.length;
    location.href = links[next].href;
  }

  function openDetails(id, focusSelector) {
    const box = document.getElementById(id);
    if (!box) return;
    box.open = true;
    const target = box.querySelector(focusSelector);
    if (target) target.focus();
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented) return;
    const key = event.key;
    if (event.altKey && !event.ctrlKey && !event.metaKey) {
      const code = event.code;
      const actions = {
        ArrowDown: () => goConversation(1), ArrowUp: () => goConversation(-1),
        KeyN: () => { const take = document.getElementById("take"); if (take) take.click(); },
        KeyB: () => {
          const form = document.getElementById("return");
          if (form) form.requestSubmit();
        },
        KeyC: () => openDetails("close-box", "select"),
        KeyT: () => openDetails("transfer-box", "select"),
      };
      const action = actions[code] || actions[key];
      if (action) {
        event.preventDefault();
        action();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || typing(event.target)) return;
    if (key === "?") { event.preventDefault(); openHelp(); }
    if (key === "j") goConversation(1);
    if (key === "k") goConversation(-1);
    if (key === "Escape") {
      document.querySelectorAll("details[open]").forEach((d) => { d.open = false; });
    }
  });

  // --- The live socket -------------------------------------------------------------------

  function receive(event) {
    const message = JSON.parse(event.data);
    if (message.cursor) cursor = message.cursor;
    if (message.kind === "snapshot") {
      if (pageKind === "queue" || pageKind === "chat") showLists(message);
      if (pageKind === "supervisor") showSupervisor(message);
    } else if (message.kind === "message") {
      showMessage(message);
    } else if (message.kind === "assigned") {
      alertAgent("A chat was given to you", "", message.sender_id);
    }
  }

  function connect() {
    if (!status) return;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const query = cursor ? "?cursor=" + encodeURIComponent(cursor) : "";
    const socket = new WebSocket(scheme + location.host + "/console/live" + query);
    socket.onopen = function () {
      delay = 1000;
      status.textContent = "live";
      status.className = "live";
      beat = setInterval(() => socket.send(JSON.stringify({ kind: "heartbeat" })), 20000);
      socket.send(JSON.stringify({ kind: "heartbeat" }));
    };
    socket.onmessage = receive;
    socket.onclose = function () {
      clearInterval(beat);
      status.textContent = "reconnecting…";
      status.className = "offline";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }

  showUnread();
  connect();
})();
