"""The Textual app: seeds, technique settings and streaming output; review, curation and export by keyboard."""
