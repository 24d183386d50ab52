"""Handing a conversation to a person: the inbox interface, its built-in desk queue, the hours.

    inbox.py   HandoffRequest -> Ticket through one small interface (the desk's queue built in)
    hours.py   live-chat hours (knowledge/FACTS.md) and what the customer is told
    bridge.py  the desk's client for the Rasa server's desk bridge (reply, hand back)
"""
