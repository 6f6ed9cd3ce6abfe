"""OpenAI-compatible inference servers (llama.cpp's llama-server, vLLM, SGLang) as the model of a run."""
