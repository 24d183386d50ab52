"""SQL storage. Today: Rasa's tracker store (`rasa_tracker`, runs inside the Rasa server)."""
