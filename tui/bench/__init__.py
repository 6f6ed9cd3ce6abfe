"""`smolgen bench`: where the time goes, measured against bare llama-cpp-python loops."""
