// 👍 / 👎 under each of the bot's messages in the chat (issue 16): the rating, and after 👎 an
// optional comment, go to POST /webhooks/feedback/rate (bot/channels/feedback.py), which finds
// the message in this conversation's transcript by its text and stores the rating in the log.
//
// rasa-webchat 1.0.1 has no hook for this, so a MutationObserver decorates its messages as they
// appear: a bot message is a `.rw-message` holding a `.rw-response`. The bar goes at the end of
// that element, after the nodes React manages, so React never has to move or remove it.
(function () {
  "use strict";

  var ENDPOINT = "/webhooks/feedback/rate";
  var STORAGE_KEY = "chat_session"; // what rasa-webchat keeps with params.storage: "session"
  var CHOICES_KEY = "larkspur_feedback"; // our own: the ratings given, shown again after a reload
  var MAX_COMMENT = 500; // as the server allows
  // A thumb drawn here rather than the 👍 / 👎 characters, which a machine without an emoji
  // font (a kiosk, a server's headless browser) shows as empty boxes. 👎 is 👍 turned round.
  var THUMB = "M2 10h4v11H2z M8 10l4-7c1.3 0 2.2 1.1 2 2.4L13.3 9H19a2 2 0 0 1 2 2.3" +
    "l-1.3 7.7A2.4 2.4 0 0 1 17.3 21H8z";
  var SVG = "http://www.w3.org/2000/svg";

  function thumb(down) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("d", THUMB);
    if (down) path.setAttribute("transform", "rotate(180 12 12)");
    svg.appendChild(path);
    return svg;
  }

  function widgetSession() {
    try {
      return JSON.parse(window.sessionStorage.getItem(STORAGE_KEY)) || {};
    } catch (e) {
      return {};
    }
  }

  function choices() {
    try {
      return JSON.parse(window.sessionStorage.getItem(CHOICES_KEY)) || {};
    } catch (e) {
      return {};
    }
  }

  function remember(key, rating) {
    var all = choices();
    all[key] = rating;
    try {
      window.sessionStorage.setItem(CHOICES_KEY, JSON.stringify(all));
    } catch (e) { /* storage full or off: the rating is stored on the server all the same */ }
  }

  function shownMessages() {
    return Array.prototype.slice.call(
      document.querySelectorAll(".rw-messages-container .rw-message:not(.rw-typing-indication)"));
  }

  // The text the bot sent, as the widget stored it, rather than the page's rendering of its
  // Markdown; the messages on screen are the stored conversation's, minus the hidden ones.
  function sentText(element, position) {
    var stored = (widgetSession().conversation || []).filter(function (m) { return !m.hidden; });
    var message = stored[position];
    if (message && message.sender === "response" && typeof message.text === "string" &&
        stored.length === shownMessages().length) {
      return message.text;
    }
    var rendered = element.querySelector(".rw-message-text");
    return rendered ? rendered.innerText : "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function decorate(message, position) {
    var sessionId = widgetSession().session_id;
    var text = sentText(message, position);
    if (!sessionId || !text.trim()) return;
    var key = sessionId + ":" + position;

    var bar = el("div", "lk-feedback");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Rate this answer");
    var up = el("button", "lk-feedback-up");
    up.appendChild(thumb(false));
    up.type = "button";
    up.setAttribute("aria-label", "Helpful");
    var down = el("button", "lk-feedback-down");
    down.appendChild(thumb(true));
    down.type = "button";
    down.setAttribute("aria-label", "Not helpful");
    var status = el("span", "lk-feedback-status");
    status.setAttribute("role", "status");
    var form = el("form", "lk-feedback-comment");
    form.hidden = true;
    var comment = el("input");
    comment.type = "text";
    comment.maxLength = MAX_COMMENT;
    comment.placeholder = "What was wrong? (optional)";
    comment.setAttribute("aria-label", "What was wrong? (optional)");
    var send = el("button", "lk-feedback-send", "Send");
    send.type = "submit";
    form.appendChild(comment);
    form.appendChild(send);
    bar.appendChild(up);
    bar.appendChild(down);
    bar.appendChild(status);
    bar.appendChild(form);

    function show(rating) {
      up.setAttribute("aria-pressed", rating === 1 ? "true" : "false");
      down.setAttribute("aria-pressed", rating === -1 ? "true" : "false");
      if (rating) status.textContent = "Thanks for your feedback";
    }

    function rate(rating, withComment) {
      var body = { sender: sessionId, text: text, rating: rating };
      if (withComment && comment.value.trim()) body.comment = comment.value.trim();
      up.disabled = down.disabled = send.disabled = true;
      return fetch(ENDPOINT, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (answer) {
          if (!response.ok) throw new Error(answer.error || "not stored");
          remember(key, rating);
          show(rating);
          return true;
        });
      }).catch(function () {
        status.textContent = "Sorry, your feedback could not be saved. Please try again.";
        return false;
      }).then(function (stored) {
        up.disabled = down.disabled = send.disabled = false;
        return stored;
      });
    }

    up.addEventListener("click", function () {
      form.hidden = true;
      rate(1, false);
    });
    down.addEventListener("click", function () {
      // The thumbs down counts at once; the comment, if any, replaces it with the words added.
      rate(-1, false).then(function (stored) {
        if (stored) {
          form.hidden = false;
          comment.focus();
        }
      });
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      rate(-1, true).then(function (stored) {
        if (stored) form.hidden = true;
      });
    });

    show(choices()[key] || 0);
    message.appendChild(bar);
  }

  function decorateAll() {
    shownMessages().forEach(function (message, position) {
      if (message.querySelector(".lk-feedback")) return;
      // Only the bot's text messages: not the customer's, not a carousel or an image.
      if (!message.querySelector(".rw-response .rw-message-text")) return;
      decorate(message, position);
    });
  }

  function start() {
    var root = document.getElementById("webchat");
    if (!root || !window.MutationObserver) return;
    new MutationObserver(decorateAll).observe(root, { childList: true, subtree: true });
    decorateAll();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
