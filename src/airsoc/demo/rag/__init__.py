"""The demo RAG support bot: policy corpus, retrieval index, answer composer, fallbacks."""
