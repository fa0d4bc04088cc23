"""Text: the book's tokenizer, vocabularies, encoding, word vectors."""
