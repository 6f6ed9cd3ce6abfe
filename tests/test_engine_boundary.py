import subprocess
import sys


def test_engine_does_not_import_textual():
    code = (
        "import sys, tui.engine.runner, tui.engine.store, tui.engine.export, tui.engine.seeds, "
        "tui.engine.techniques.magpie, tui.engine.techniques.chain, tui.engine.techniques.text_generation, tui.cli_generate; "
        "print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
