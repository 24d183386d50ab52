"""Input channels, loaded by module path from credentials.yml and run inside the Rasa server.

Channel code stays light: it never imports torch or faiss.
"""
