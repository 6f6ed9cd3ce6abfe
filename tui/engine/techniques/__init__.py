"""Generation techniques from the chapter: one module each, all producing samples the same way."""
