"""Fixed replies for the paths where the dialogue model is not asked (empty input, failures).

Kept here so every channel and the action server say the same thing. Dialogue replies live in
domain.yml.
"""

EMPTY_MESSAGE = (
    "It looks like your message was empty. Type your question, for example "
    "\"where is my order #123456\" or \"how do I return an item\"."
)
SOMETHING_WRONG = (
    "Sorry, something went wrong on my side and I couldn't answer that. Please try again in a "
    "moment, or write \"human\" and I'll connect you with a person from our support team."
)
TOO_SLOW = (
    "Sorry, that is taking me longer than it should. Please try again in a moment, or write "
    "\"human\" and I'll connect you with a person from our support team."
)
