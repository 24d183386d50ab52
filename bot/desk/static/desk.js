// The agent desk's only script: refreshes the queue, follows a conversation live, loads the
// suggested reply. Every piece of data goes into the page with textContent, never innerHTML.
"use strict";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function toLogin(response) {
  if (response.status === 401) {
    window.location.assign("/login");
    return true;
  }
  return false;
}

// --- the queue ------------------------------------------------------------------------------

function queueRow(item, ended) {
  const row = el("tr", ended ? "" : "status-" + item.status);
  const link = el("a", "", "Open #" + item.id);
  link.href = item.url;
  const cells = ended
    ? [item.channel, item.ended_at, item.waiting, item.summary,
       item.status.replace("_", " ") + (item.ended_by ? " by " + item.ended_by : "")]
    : [item.channel, item.waiting, item.reason, item.summary,
       item.status === "claimed" ? "claimed by " + (item.claimed_by || "someone") : "queued"];
  cells.forEach((value) => row.appendChild(el("td", "", value)));
  const last = el("td");
  last.appendChild(link);
  row.appendChild(last);
  return row;
}

function refreshQueue(main) {
  fetch(main.dataset.refreshUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => {
      if (toLogin(response) || !response.ok) return null;
      return response.json();
    })
    .then((data) => {
      if (!data) return;
      const open = document.getElementById("open-rows");
      const ended = document.getElementById("ended-rows");
      open.replaceChildren(...data.open.map((item) => queueRow(item, false)));
      ended.replaceChildren(...data.ended.map((item) => queueRow(item, true)));
      document.getElementById("open-empty").hidden = data.open.length > 0;
    })
    .catch(() => {}); // the next refresh tries again
}

// --- a conversation -------------------------------------------------------------------------

function lineItem(line) {
  const item = el("li", "line role-" + line.role);
  item.dataset.id = line.id;
  const meta = el("div", "meta");
  meta.appendChild(el("span", "role", line.role));
  const time = el("time", "", line.time);
  time.title = line.at;
  meta.appendChild(time);
  if (line.kind) meta.appendChild(el("span", "kind", line.kind));
  item.appendChild(meta);
  item.appendChild(el("p", "text", line.text));
  const parts = [];
  if (line.intent) parts.push("intent: " + line.intent + (line.confidence !== null ? " (" + line.confidence + ")" : ""));
  if (line.sources && line.sources.length) {
    parts.push("sources: " + line.sources.map((s) => s.article_id + " (" + s.score + ")").join(", "));
  }
  if (line.drafts && line.drafts.length) {
    parts.push("draft: " + line.drafts.map((d) => d.status + (d.failed_check ? " (" + d.failed_check + ")" : "")).join(", "));
  }
  if (parts.length) {
    const turn = el("div", "turn");
    parts.forEach((part) => turn.appendChild(el("span", "", part)));
    item.appendChild(turn);
  }
  return item;
}

function showSuggestion(main) {
  const box = document.getElementById("suggestion");
  if (!box) return;
  const status = document.getElementById("suggestion-status");
  const text = document.getElementById("suggestion-text");
  const sources = document.getElementById("suggestion-sources");
  const use = document.getElementById("use-suggestion");
  status.textContent = "Loading a suggestion…";
  status.hidden = false;
  text.hidden = true;
  sources.hidden = true;
  use.hidden = true;
  fetch(main.dataset.suggestionUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => {
      if (toLogin(response)) return null;
      if (!response.ok) throw new Error("status " + response.status);
      return response.json();
    })
    .then((data) => {
      if (!data) return;
      document.getElementById("question").value = data.question || "";
      if (!data.usable) {
        const why = { timeout: "The bot took too long; no suggestion.", busy: "The bot is busy; no suggestion.",
                      no_question: "The customer has not asked anything yet." };
        status.textContent = why[data.kind] || "No suggestion.";
        document.getElementById("suggested-text").value = "";
        document.getElementById("suggested-sources").value = "[]";
        return;
      }
      status.hidden = true;
      text.textContent = data.text;
      text.hidden = false;
      sources.replaceChildren(...data.sources.map((s) => {
        const item = el("li", "", s.article_id + (s.score !== null ? " (" + s.score + ")" : ""));
        if (s.url) {
          item.appendChild(document.createTextNode(" "));
          item.appendChild(el("span", "muted", s.url));
        }
        return item;
      }));
      sources.hidden = data.sources.length === 0;
      use.hidden = false;
      use.onclick = () => {
        const reply = document.getElementById("reply-text");
        reply.value = data.text;
        reply.focus();
      };
      // What the desk showed, stored beside what the agent sends (as is, edited or their own).
      document.getElementById("suggested-text").value = data.text;
      document.getElementById("suggested-sources").value = JSON.stringify(data.sources);
    })
    .catch(() => { status.textContent = "No suggestion (the desk could not get one)."; });
}

function followConversation(main) {
  const list = document.getElementById("transcript");
  let last = parseInt(main.dataset.lastLine || "0", 10);
  const events = new EventSource(main.dataset.eventsUrl + "?after=" + last);
  events.addEventListener("line", (message) => {
    const line = JSON.parse(message.data);
    if (line.id <= last) return;
    last = line.id;
    list.appendChild(lineItem(line));
    document.getElementById("transcript-empty").hidden = true;
    list.scrollTop = list.scrollHeight;
    if (line.role === "customer") showSuggestion(main);
  });
  events.addEventListener("status", (message) => {
    const state = JSON.parse(message.data);
    document.getElementById("status").textContent = state.status.replace("_", " ");
    document.getElementById("claimed-by").textContent = state.claimed_by ? "claimed by " + state.claimed_by : "";
    const canAct = state.can_act ? "yes" : "no";
    if (state.status !== main.dataset.status || canAct !== main.dataset.canAct) {
      document.getElementById("changed-note").hidden = false;
      if (!state.open) {
        document.querySelectorAll(".actions button").forEach((button) => { button.disabled = true; });
      }
    }
  });
  list.scrollTop = list.scrollHeight;
}

document.addEventListener("DOMContentLoaded", () => {
  const queue = document.getElementById("queue");
  if (queue) window.setInterval(() => refreshQueue(queue), 2000);
  const conversation = document.getElementById("conversation");
  if (conversation) {
    followConversation(conversation);
    showSuggestion(conversation);
  }
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});
