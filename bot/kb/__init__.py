"""The knowledge base's parts that are not rules: Markdown files and the embedding model."""
