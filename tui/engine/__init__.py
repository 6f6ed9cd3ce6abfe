"""The engine: models, techniques, store and export. It never imports textual."""
