"""What the customer reads around a hand-over to a person (the Rasa server's channels import
this: standard library only)."""

SUPPORT_EMAIL = "support@larkspur.example"

# A customer who writes again while waiting for a person.
STILL_WAITING = ("Thanks, your message is with our support team. A person will answer here as "
                 "soon as they can.")
# The inbox could not take the conversation (its database or service is down).
HANDOFF_FAILED = (f"Sorry, I couldn't reach our support team's queue just now. Please write to "
                  f"{SUPPORT_EMAIL} and a person will answer within 1 business day, or try "
                  f"asking for a person again in a few minutes.")
# When an agent hands the conversation back to the bot.
BACK_WITH_BOT = "You're back with Larkspur's virtual assistant. Ask me anything, or write \"human\" to reach a person again."
CLOSED_BY_AGENT = "Our support team has closed this conversation. Thanks for contacting Larkspur! Write again any time."
