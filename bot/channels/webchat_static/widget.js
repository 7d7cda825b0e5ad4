// The Kestrel Mobile chat widget: one WebSocket to /webhooks/webchat/socket.
// Customer, bot and agent text is always inserted with textContent, never as HTML.
// Standalone at /webhooks/webchat/, or inside the panel embed.js opens (?embed=1): then the
// operator's colour and name come from the query, Esc or × close the panel, and Tab stays
// inside it (a focus trap).
(function () {
  "use strict";
  // The server-signed session token (never a bare session id: the server ignores those).
  var TOKEN_KEY = "switchboard.webchat.token";
  try { localStorage.removeItem("switchboard.webchat.session"); } catch (e) { /* no storage */ }
  var GREETING = "Hi! I'm the Kestrel Mobile assistant. Ask me about your bill, data, " +
    "roaming or your line, or ask for a person any time.";
  var SUGGESTIONS = ["What's my balance?", "How much is roaming in France?",
    "My data isn't working", "I want to talk to a person"];
  var params = new URLSearchParams(location.search);
  var embedded = params.get("embed") === "1";
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var status = document.getElementById("status");
  var banner = document.getElementById("banner");
  var typing = document.getElementById("typing");
  var typingText = document.getElementById("typing-text");
  var closeButton = document.getElementById("close");
  var socket = null;
  var retryDelay = 500;
  // Messages the server has not acknowledged (typed while disconnected, or sent just before the
  // connection or the server went down): sent again, same id, on every reconnect. The server
  // answers each id once, so nothing typed is lost and nothing is answered twice.
  var unacked = [];
  var agentName = null;  // the person in the chat now, if any
  var typingTimer = null;
  var everConnected = false;
  var dropped = false;

  // --- The operator's settings (embed.js passes them in the query) ----------------------

  var name = (params.get("name") || "").slice(0, 60);
  if (name) {
    document.getElementById("chat-name").textContent = name;
    document.title = name + " — chat with us";
    document.querySelector(".chat__avatar").textContent = name.charAt(0).toUpperCase();
  }
  var colour = params.get("color") || "";
  if (/^#[0-9a-fA-F]{6}$/.test(colour)) {
    var rgb = [1, 3, 5].map(function (i) { return parseInt(colour.slice(i, i + 2), 16) / 255; })
      .map(function (c) { return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); });
    var luminance = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
    document.documentElement.style.setProperty("--brand", colour);
    // Dark text on light colours, white on dark ones: readable whatever the operator picks.
    document.documentElement.style.setProperty("--brand-ink", luminance > 0.18 ? "#111" : "#fff");
  }
  if (embedded) {
    document.body.classList.add("embed");
    closeButton.hidden = false;
  }

  // --- Messages -----------------------------------------------------------------------

  function timeText(at) {
    var when = at ? new Date(at * 1000) : new Date();
    return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function bubble(who, text, at, label) {
    var item = document.createElement("li");
    item.className = "msg msg--" + who;
    if (label) {
      var author = document.createElement("span");
      author.className = "msg__who";
      author.textContent = label;
      item.appendChild(author);
    }
    var body = document.createElement("span");
    body.className = "msg__text";
    body.textContent = text;
    item.appendChild(body);
    var stamp = document.createElement("time");
    stamp.className = "msg__time";
    var when = at ? new Date(at * 1000) : new Date();
    stamp.dateTime = when.toISOString();
    stamp.textContent = timeText(at);
    item.appendChild(stamp);
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  function systemLine(text) {
    var item = document.createElement("li");
    item.className = "system";
    item.textContent = text;
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function buttonRow(list, className) {
    if (!list || !list.length) { return null; }
    var row = document.createElement("li");
    row.className = className || "buttons";
    list.forEach(function (button) {
      var element = document.createElement("button");
      element.type = "button";
      element.textContent = button.title;
      element.addEventListener("click", function () {
        Array.prototype.forEach.call(row.querySelectorAll("button"), function (b) { b.disabled = true; });
        if (className === "suggestions") { row.remove(); }
        send(button.payload, button.title);
        input.focus();
      });
      row.appendChild(element);
    });
    log.appendChild(row);
    log.scrollTop = log.scrollHeight;
    return row;
  }

  function greet() {
    bubble("greeting", GREETING, null, name || "Kestrel Mobile");
    buttonRow(SUGGESTIONS.map(function (q) { return { title: q, payload: q }; }), "suggestions");
  }

  function showTyping(text) {
    document.body.dataset.typingShown = String(Number(document.body.dataset.typingShown || 0) + 1);
    typingText.textContent = text;
    typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, 20000);  // never "typing" for ever
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    typing.hidden = true;
  }

  function messageId() {
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
  }

  function send(text, shown) {
    var suggestions = log.querySelector(".suggestions");
    if (suggestions) { suggestions.remove(); }
    bubble("customer", shown || text);
    var id = messageId();
    var frame = JSON.stringify({ type: "message", text: text, id: id });
    unacked.push({ id: id, frame: frame, shown: shown || text });
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(frame); }
  }

  function handle(frame) {
    if (frame.type === "session") {
      try { localStorage.setItem(TOKEN_KEY, frame.token); } catch (e) { /* no storage */ }
    } else if (frame.type === "history") {
      if (!frame.messages.length && log.children.length) { return; }  // a reconnect: keep what shows
      log.textContent = "";
      if (!frame.messages.length) { greet(); return; }
      frame.messages.forEach(function (turn) {
        var who = turn.from === "customer" ? "customer" : turn.from === "agent" ? "agent" : "bot";
        bubble(who, turn.text, turn.at, who === "agent" ? (turn.name || "Agent") : null);
      });
      var last = frame.messages[frame.messages.length - 1];
      if (last && last.from === "bot") { buttonRow(last.buttons); }
      var said = frame.messages.filter(function (t) { return t.from === "customer"; })
        .map(function (t) { return t.text; });
      unacked.forEach(function (item) {  // on its way again: still shown as written
        if (said.indexOf(item.shown) < 0) { bubble("customer", item.shown); }
      });
    } else if (frame.type === "ack") {  // handled: the replies came before it (or long ago)
      unacked = unacked.filter(function (item) { return item.id !== frame.id; });
      hideTyping();
    } else if (frame.type === "typing") {
      showTyping((name || "The assistant") + " is typing…");
    } else if (frame.type === "bot") {
      hideTyping();
      if (agentName) {
        bubble("agent", frame.text, null, agentName);
      } else {
        bubble("bot", frame.text);
      }
      buttonRow(frame.buttons);
    } else if (frame.type === "agent") {
      hideTyping();
      if (frame.event === "present") {  // back after a reload: still with this person
        agentName = frame.name || "An agent";
      } else if (frame.event === "joined") {
        agentName = frame.name || "An agent";
        systemLine(agentName + " joined the chat");
      } else if (frame.event === "left") {
        systemLine(frame.to === "assistant" ? (frame.name || "The agent") +
          " left the chat: you're back with the assistant" :
          (frame.name || "The agent") + " left the chat");
        agentName = null;
      }
    } else if (frame.type === "error") {
      hideTyping();
      if (frame.id) {  // that message was refused: sending it again would not help
        unacked = unacked.filter(function (item) { return item.id !== frame.id; });
      }
      bubble("error", frame.error);
    }
  }

  // --- The connection -----------------------------------------------------------------

  function showBanner(text, ok) {
    banner.textContent = text;
    banner.className = "chat__banner" + (ok ? " ok" : "");
    banner.hidden = false;
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var path = location.pathname.replace(/\/?$/, "/") + "socket";
    socket = new WebSocket(scheme + location.host + path);
    socket.addEventListener("open", function () {
      retryDelay = 500;
      status.textContent = "online";
      var token = null;
      try { token = localStorage.getItem(TOKEN_KEY); } catch (e) { /* no storage */ }
      socket.send(JSON.stringify({ type: "hello", token: token }));
      unacked.forEach(function (item) { socket.send(item.frame); });
      if (dropped) {
        showBanner("Connected again.", true);
        setTimeout(function () { if (!dropped) { banner.hidden = true; } }, 4000);
      }
      dropped = false;
      everConnected = true;
    });
    socket.addEventListener("message", function (event) {
      try { handle(JSON.parse(event.data)); } catch (error) { /* ignore a malformed frame */ }
    });
    socket.addEventListener("close", function () {
      status.textContent = "reconnecting…";
      hideTyping();
      if (everConnected) {
        dropped = true;
        showBanner("Connection lost. Reconnecting… anything you write is sent when we're back.",
          false);
      }
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    send(text);
  });

  // --- Inside the embed panel: close, focus trap -----------------------------------------

  function closePanel() {
    if (embedded && window.parent !== window) {
      window.parent.postMessage({ type: "switchboard-webchat-close" }, "*");
    }
  }

  if (embedded) {
    closeButton.addEventListener("click", closePanel);
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); closePanel(); return; }
      if (event.key !== "Tab") { return; }
      var focusable = Array.prototype.filter.call(
        document.querySelectorAll("button, input, [href], [tabindex]:not([tabindex='-1'])"),
        function (el) { return !el.disabled && !el.hidden && el.offsetParent !== null; });
      if (!focusable.length) { return; }
      var first = focusable[0];
      var last = focusable[focusable.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    });
    window.addEventListener("message", function (event) {
      if (event.source === window.parent && event.data &&
          event.data.type === "switchboard-webchat-open") {
        input.focus();
      }
    });
  }

  connect();
}());
