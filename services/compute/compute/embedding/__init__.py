"""Sentence embeddings: model loading with the fastest backend this CPU runs correctly, and a queue."""
