"""Every bad model path gets one line naming the file and the problem, before llama.cpp sees it."""

import pytest

from tui.engine.errors import ModelFileError
from tui.engine.model import Model
from tui.engine.model_file import default_model_path, inspect_model


def test_embedded_model_metadata():
    info = inspect_model(default_model_path())
    assert info.architecture == "llama"
    assert info.parameters_label == "135M"
    assert info.quantization == "Q4_1"
    assert info.trained_context == 8192
    assert info.bos_token == "<|im_start|>" and info.eos_token == "<|im_end|>"
    assert "<|im_start|>" in info.chat_template
    assert len(info.fingerprint) == 16


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match=r"nope\.gguf: model file not found"):
        Model.load(tmp_path / "nope.gguf")


def test_directory(tmp_path):
    with pytest.raises(ModelFileError, match="is a folder"):
        Model.load(tmp_path)


def test_not_a_gguf(tmp_path):
    fake = tmp_path / "weights.gguf"
    fake.write_text("this is not a model")
    with pytest.raises(ModelFileError, match="weights.gguf: not a GGUF model file"):
        Model.load(fake)


@pytest.mark.parametrize("keep", [24, 4096, 2_000_000, 60_000_000])
def test_truncated_file_is_caught_before_llama_cpp(tmp_path, keep):
    cut = tmp_path / "cut.gguf"
    with open(default_model_path(), "rb") as source:
        cut.write_bytes(source.read(keep))
    with pytest.raises(ModelFileError, match=r"cut\.gguf: the GGUF file is truncated"):
        Model.load(cut)
