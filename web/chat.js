// Starts rasa-webchat against this server's socket.io channel (bot/channels/socketio.py).
// The conversation id and the messages are kept in the tab's sessionStorage, so a reload shows
// the same conversation and carries on with it (credentials.yml: session_persistence: true).
window.WebChat.default({
  socketUrl: window.location.origin,
  socketPath: "/socket.io/",
  embedded: true,
  initPayload: "/greet",
  title: "Larkspur support",
  subtitle: "Usually answers in a few seconds",
  inputTextFieldHint: "Type your question...",
  hideWhenNotConnected: false,
  docViewer: false,
  customData: { page: "web" },
  params: { storage: "session" },
  // The widget's default holds each message back 0.8-3 s (30 ms a character) to look like
  // typing: a long answer, or a person's reply, then reached the screen 3 s after it arrived.
  customMessageDelay: () => 300,
}, document.getElementById("webchat"));
