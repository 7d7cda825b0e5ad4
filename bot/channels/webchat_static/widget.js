// The Kestrel Mobile chat widget: one WebSocket to /webhooks/webchat/socket.
// Customer and bot text is always inserted with textContent, never as HTML.
(function () {
  "use strict";
  // The server-signed session token (never a bare session id: the server ignores those).
  var TOKEN_KEY = "switchboard.webchat.token";
  localStorage.removeItem("switchboard.webchat.session");  // what older pages kept
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var status = document.getElementById("status");
  var socket = null;
  var retryDelay = 500;
  var pending = [];  // messages typed while disconnected, sent on reconnect

  function bubble(who, text) {
    var item = document.createElement("li");
    item.className = "msg msg--" + who;
    item.textContent = text;
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  function buttons(list) {
    if (!list || !list.length) { return; }
    var row = document.createElement("li");
    row.className = "buttons";
    list.forEach(function (button) {
      var element = document.createElement("button");
      element.type = "button";
      element.textContent = button.title;
      element.addEventListener("click", function () {
        Array.prototype.forEach.call(row.querySelectorAll("button"), function (b) { b.disabled = true; });
        send(button.payload, button.title);
      });
      row.appendChild(element);
    });
    log.appendChild(row);
    log.scrollTop = log.scrollHeight;
  }

  function messageId() {
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
  }

  function send(text, shown) {
    bubble("customer", shown || text);
    var frame = JSON.stringify({ type: "message", text: text, id: messageId() });
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(frame); } else { pending.push(frame); }
  }

  function handle(frame) {
    if (frame.type === "session") {
      localStorage.setItem(TOKEN_KEY, frame.token);
    } else if (frame.type === "history") {
      log.textContent = "";
      frame.messages.forEach(function (turn) {
        bubble(turn.from === "customer" ? "customer" : "bot", turn.text);
      });
      var last = frame.messages[frame.messages.length - 1];
      if (last && last.from === "bot") { buttons(last.buttons); }
    } else if (frame.type === "bot") {
      bubble("bot", frame.text);
      buttons(frame.buttons);
    } else if (frame.type === "error") {
      bubble("error", frame.error);
    }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var path = location.pathname.replace(/\/?$/, "/") + "socket";
    socket = new WebSocket(scheme + location.host + path);
    socket.addEventListener("open", function () {
      retryDelay = 500;
      status.textContent = "online";
      socket.send(JSON.stringify({ type: "hello", token: localStorage.getItem(TOKEN_KEY) }));
      while (pending.length) { socket.send(pending.shift()); }
    });
    socket.addEventListener("message", function (event) {
      try { handle(JSON.parse(event.data)); } catch (error) { /* ignore a malformed frame */ }
    });
    socket.addEventListener("close", function () {
      status.textContent = "reconnecting…";
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

  connect();
}());
