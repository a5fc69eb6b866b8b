from core.settings import ROOT, Settings


def test_default_paths_are_the_checkout_s_own(monkeypatch):
    for name in ("DGAE_MODEL_DIR", "DGAE_STORE_DIR", "DGAE_FRONTEND_DIR"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert (ROOT / "pyproject.toml").is_file()
    assert (s.model_dir / "model.json").is_file() and (s.frontend_dir / "index.html").is_file()
    assert s.store_dir.is_relative_to(ROOT)
