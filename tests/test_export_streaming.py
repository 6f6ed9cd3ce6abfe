"""An export reads the store one sample at a time: what it allocates does not grow with the store."""

import json
import tracemalloc

from tests.conftest import run_cli
from tui.bench.synthetic import write_synthetic_store
from tui.engine.export import export_samples
from tui.engine.store import SampleStore


def _export_peak_bytes(folder, size: int) -> int:
    store_path = write_synthetic_store(folder / f"store-{size}.json", size)
    with SampleStore(store_path, read_only=True) as store:
        tracemalloc.start()
        try:
            result = export_samples(store.iter_samples(), "messages", folder / f"out-{size}.jsonl", include_truncated=True)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.written == size
    return peak


def test_exporting_ten_times_the_samples_allocates_no_more(tmp_path):
    small, large = _export_peak_bytes(tmp_path, 300), _export_peak_bytes(tmp_path, 3000)
    assert large < 1.5 * small, (small, large)  # a list of every sample would be ten times larger


def test_iter_samples_gives_what_list_samples_gives_and_leaves_out_samples_stored_meanwhile(tmp_path):
    with SampleStore(tmp_path / "smolgen.json") as store:
        for number in range(6):
            store.add_sample({"instruction": f"Q{number}?", "status": ("new", "accepted")[number % 2]})
        assert list(store.iter_samples(statuses=["accepted"])) == store.list_samples(statuses=["accepted"])
        seen = []
        for sample in store.iter_samples():
            seen.append(sample["id"])
            if len(seen) == 1:
                store.add_sample({"instruction": "Stored while exporting?"})  # the app's run goes on beside an export
        assert seen == [1, 2, 3, 4, 5, 6]


def test_bench_export_measures_each_size_in_its_own_process(tmp_path):
    result = run_cli("bench", "export", "--sizes", "200,1000", "--json", cwd=tmp_path)  # the sizes run in processes of their own
    assert result.returncode == 0, result.stderr
    small, large = json.loads(result.stdout)["sizes"]
    assert (small["rows"], large["rows"]) == (200, 1000)
    for figures in (small, large):
        assert figures["export_seconds"] > 0 and figures["peak_rss_mb"] > 0 and figures["export_peak_kb"] > 0
    assert list(tmp_path.iterdir()) == []  # the stores and their exports were temporary
