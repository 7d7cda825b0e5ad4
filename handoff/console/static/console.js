// Keeps console pages live over one WebSocket; reconnects by itself. Text from customers is
// only ever inserted with textContent, never as HTML.
"use strict";
(function () {
  const body = document.body;
  const pageKind = body.dataset.page;
  const status = document.getElementById("connection");
  let delay = 1000;
  let cursor = body.dataset.cursor || "";  // the agent's inbox, read up to here
  let beat = null;

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function minutes(seconds) {
    return Math.floor(seconds / 60) + " min";
  }

  function pickForm(senderId) {
    const form = document.createElement("form");
    form.method = "post";
    form.action = "/console/pick";
    for (const [name, value] of [["csrf", body.dataset.csrf], ["sender_id", senderId]]) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.appendChild(input);
    }
    const button = document.createElement("button");
    button.textContent = "Pick";
    form.appendChild(button);
    return form;
  }

  function chatLink(senderId) {
    const link = document.createElement("a");
    link.href = "/console/chat/" + encodeURIComponent(senderId);
    link.textContent = senderId;
    return link;
  }

  function showQueue(snapshot) {
    const tbody = document.querySelector("#queue tbody");
    tbody.replaceChildren();
    for (const r of snapshot.queue) {
      const row = document.createElement("tr");
      [r.skill, String(r.priority), r.channel, r.reason, minutes(r.waiting_seconds),
        r.last_customer_text].forEach((text) => cell(row, text));
      cell(row, "").appendChild(pickForm(r.sender_id));
      tbody.appendChild(row);
    }
    const mine = document.getElementById("mine");
    mine.replaceChildren();
    for (const chat of snapshot.mine) {
      const item = document.createElement("li");
      item.appendChild(chatLink(chat.sender_id));
      item.append(" (" + chat.channel + ", " + chat.reason + ")");
      if (chat.waiting_reply_seconds !== null) {
        item.append(" — waiting for your reply " + minutes(chat.waiting_reply_seconds));
      }
      mine.appendChild(item);
    }
    const me = snapshot.agents.find((a) => a.agent_id === snapshot.agent);
    const select = document.getElementById("status");
    if (me && select && (me.status === "online" || me.status === "away")) {
      select.value = me.status;
    }
  }

  function showSupervisor(snapshot) {
    const skills = document.querySelector("#skills tbody");
    skills.replaceChildren();
    for (const [skill, s] of Object.entries(snapshot.skills)) {
      const row = document.createElement("tr");
      [skill, String(s.waiting),
        Math.floor(s.longest_wait / 60) + " min " + (s.longest_wait % 60) + " s"]
        .forEach((text) => cell(row, text));
      skills.appendChild(row);
    }
    const agents = document.querySelector("#agents tbody");
    agents.replaceChildren();
    for (const a of snapshot.agents) {
      const row = document.createElement("tr");
      [a.agent_id, a.status, a.load + "/" + a.capacity, a.skills.join(", ")]
        .forEach((text) => cell(row, text));
      agents.appendChild(row);
    }
  }

  function showMessage(message) {
    if (pageKind !== "chat" || message.sender_id !== body.dataset.sender) return;
    const item = document.createElement("li");
    item.className = message.author;
    const who = document.createElement("b");
    who.textContent = message.author;
    item.append(who, ": " + message.text);
    document.getElementById("transcript").appendChild(item);
  }

  function receive(event) {
    const message = JSON.parse(event.data);
    if (message.cursor) cursor = message.cursor;
    if (message.kind === "snapshot") {
      if (pageKind === "queue") showQueue(message);
      if (pageKind === "supervisor") showSupervisor(message);
    } else if (message.kind === "message") {
      showMessage(message);
    } else if (message.kind === "assigned" && pageKind === "queue") {
      const mine = document.getElementById("mine");
      const item = document.createElement("li");
      item.appendChild(chatLink(message.sender_id));
      mine.appendChild(item);
    }
  }

  function connect() {
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

  const canned = document.getElementById("canned");
  if (canned) {
    canned.addEventListener("change", function () {
      const chosen = canned.selectedOptions[0];
      const text = document.querySelector("#reply textarea");
      if (chosen && chosen.dataset.text) text.value = chosen.dataset.text;
    });
  }
  connect();
})();
