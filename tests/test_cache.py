import pytest

from idl_utils.cache import cache_path, config_key


def test_cache_path_is_keyed_by_config_and_parts_sit_beside_it(tmp_path, monkeypatch):
    monkeypatch.setenv("IDL_CACHE_DIR", str(tmp_path))
    a, b = cache_path("gen_vae", {"epochs": 20}), cache_path("gen_vae", {"epochs": 8})
    assert a != b and a.parent == tmp_path
    assert a.name == f"gen_vae-{config_key({'epochs': 20})}"
    snapshots = cache_path("gen_vae", {"epochs": 20}, "snapshots")
    assert snapshots == a.with_name(a.name + "-snapshots")
    with pytest.raises(ValueError, match="plain identifier"):
        cache_path("gen vae", {})
