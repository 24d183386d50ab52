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
}, document.getElementById("webchat"));
