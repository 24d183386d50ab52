"""The knowledge base: articles -> passages -> embeddings -> FAISS index (+ BM25) -> search.

  articles.py   Markdown articles with front matter, split into passages by heading
  embedder.py   sentence embeddings (all-MiniLM-L6-v2 from its wheel, or any model id/path)
  index.py      build, save, load (with manifest check) the FAISS index; GPU when FAISS sees one
  keyword.py    BM25 over the same passages (bm25s)
  search.py     Retriever.search(query, k): dense, BM25 or hybrid (rank fusion), with a threshold
"""
