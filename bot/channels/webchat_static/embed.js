// The web chat on any site, with one tag:
//   <script src="https://chat.example.com/webhooks/webchat/static/embed.js"
//           data-name="Kestrel Mobile" data-color="#0b5394" defer></script>
// It adds a launcher button (bottom right) and a panel holding the chat page in an iframe: the
// conversation, its socket and its session token stay on the chat server's origin, out of
// reach of the host page's scripts. Styles are set through the DOM (no <style> element), so a
// host page's own Content-Security-Policy needs no 'unsafe-inline' for it.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__switchboardWebchat) { return; }
  window.__switchboardWebchat = true;
  var origin = new URL(script.src).origin;
  var name = (script.dataset.name || "Chat with us").slice(0, 60);
  var colour = /^#[0-9a-fA-F]{6}$/.test(script.dataset.color || "") ? script.dataset.color : "#0b5394";
  var query = "?embed=1&name=" + encodeURIComponent(name) + "&color=" + encodeURIComponent(colour);
  var phone = window.matchMedia("(max-width: 480px)");

  function css(element, styles) {
    Object.keys(styles).forEach(function (key) { element.style.setProperty(key, styles[key]); });
  }

  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.id = "switchboard-webchat-launcher";
  launcher.setAttribute("aria-label", "Chat with " + name);
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "switchboard-webchat-panel");
  // A speech-bubble icon drawn as SVG (no emoji font or image file needed).
  var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "28");
  svg.setAttribute("height", "28");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
  svg.appendChild(path);
  launcher.appendChild(svg);
  css(launcher, { position: "fixed", right: "20px", bottom: "20px", width: "60px", height: "60px",
    "border-radius": "50%", border: "0", background: colour, color: "#fff", display: "grid",
    "place-items": "center",
    cursor: "pointer", "box-shadow": "0 4px 16px rgba(0,0,0,.25)", "z-index": "2147483000" });

  var panel = document.createElement("div");
  panel.id = "switchboard-webchat-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", name + " chat");
  panel.hidden = true;
  var frame = document.createElement("iframe");
  frame.title = name + " chat";
  frame.setAttribute("allow", "");
  css(frame, { width: "100%", height: "100%", border: "0", display: "block" });
  panel.appendChild(frame);

  function place() {
    if (phone.matches) {  // a phone: the whole screen
      css(panel, { position: "fixed", inset: "0", width: "100%", height: "100%", "border-radius": "0" });
    } else {
      css(panel, { position: "fixed", right: "20px", bottom: "92px", width: "380px",
        height: "min(600px, calc(100vh - 120px))", "border-radius": "14px" });
    }
    css(panel, { overflow: "hidden", background: "#fff", "box-shadow": "0 8px 32px rgba(0,0,0,.3)",
      "z-index": "2147483001" });
  }
  place();
  if (phone.addEventListener) { phone.addEventListener("change", place); }

  function open() {
    if (!frame.src) { frame.src = origin + "/webhooks/webchat/" + query; }
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    if (phone.matches) { launcher.hidden = true; }
    frame.focus();
    var tell = function () {
      frame.contentWindow.postMessage({ type: "switchboard-webchat-open" }, origin);
    };
    tell();
    frame.addEventListener("load", tell, { once: true });
  }

  function close() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (panel.hidden) { open(); } else { close(); }
  });
  window.addEventListener("message", function (event) {
    if (event.origin === origin && event.source === frame.contentWindow && event.data &&
        event.data.type === "switchboard-webchat-close") {
      close();
    }
  });

  function mount() {
    document.body.appendChild(panel);
    document.body.appendChild(launcher);
  }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
}());
