"""``thermal-action doctor``: a healthy environment, and each diagnosis of a broken one
(simulated by monkeypatching what the checks read)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import run_cli
from thermal_action.engine import doctor
from thermal_action.engine.doctor import Check, diagnose, healthy


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def _versions(monkeypatch, **overrides):
    """Pretend distributions have other versions (None: not installed)."""
    real = doctor.installed_version
    names = {key.replace("_", "-"): value for key, value in overrides.items()}
    monkeypatch.setattr(doctor, "installed_version",
                        lambda dist: names[dist] if dist in names else real(dist))


def test_this_environment_is_healthy():
    checks = diagnose()
    assert healthy(checks), [c for c in checks if c.status != "ok"]
    found = _by_name(checks)
    for name in ("python", "torch", "torchvision", "numpy", "mmengine", "mmcv", "mmaction2",
                 "h5py", "onnxruntime", "setuptools", "registries", "torch.distributed"):
        assert found[name].status == "ok", found[name]
    assert "mmcv-lite" in found["mmcv"].detail
    assert "CPU" in found["torch"].detail or "GPU" in found["torch"].detail
    compat = [c for c in checks if c.name.startswith("compat ")]
    assert len(compat) == 6 and all("active" in c.detail for c in compat)
    from thermal_action.engine import list_configs

    assert (f"module types of the {len(list_configs())} shipped configs are registered"
            in found["registries"].detail)


def test_torchvision_that_does_not_match_torch(monkeypatch):
    _versions(monkeypatch, torchvision="0.21.0")
    check = _by_name(diagnose())["torchvision"]
    assert check.status == "fail" and "does not match torch" in check.detail
    assert "torchvision==0.29" in check.fix


def test_torchvision_that_does_not_import(monkeypatch):
    real = doctor.try_import
    monkeypatch.setattr(doctor, "try_import", lambda module: (
        "RuntimeError: operator torchvision::nms does not exist" if module == "torchvision"
        else real(module)))
    check = _by_name(diagnose())["torchvision"]
    assert check.status == "fail" and "torchvision::nms" in check.detail


@pytest.mark.parametrize("versions, status, words", [
    (dict(mmcv_lite="2.2.0"), "fail", "needs >=2.0.0rc4, <2.2.0"),
    (dict(mmcv_lite="2.1.0", mmcv="2.1.0"), "fail", "both mmcv-lite"),
    (dict(mmcv_lite=None, mmcv=None), "fail", "not installed"),
])
def test_mmcv_diagnoses(monkeypatch, versions, status, words):
    _versions(monkeypatch, **versions)
    checks = diagnose()
    check = _by_name(checks)["mmcv"]
    assert check.status == status and words in check.detail
    assert "mmcv-lite==2.1.0" in check.fix
    assert _by_name(checks)["registries"].detail.startswith("skipped: mmcv")
    assert _by_name(checks)["registries"].status == "skip"
    assert not healthy(checks)


def test_full_mmcv_without_its_compiled_ops_is_a_warning(monkeypatch):
    _versions(monkeypatch, mmcv_lite=None, mmcv="2.1.0")
    real = doctor.try_import
    monkeypatch.setattr(doctor, "try_import", lambda module: (
        "ModuleNotFoundError: No module named 'mmcv._ext'" if module == "mmcv.ops"
        else real(module)))
    checks = diagnose()
    assert _by_name(checks)["mmcv"].status == "warn" and healthy(checks)


def test_missing_packages(monkeypatch):
    _versions(monkeypatch, h5py=None, onnxruntime=None, onnxruntime_gpu=None,
              mmaction2="1.1.0")
    checks = _by_name(diagnose())
    assert checks["h5py"].status == "fail" and checks["h5py"].fix == "pip install h5py"
    assert checks["onnxruntime"].status == "warn" and "--backend onnxruntime" in \
        checks["onnxruntime"].detail
    assert checks["mmaction2"].status == "warn" and "mmaction2==1.2.0" in checks["mmaction2"].fix


def test_old_python(monkeypatch):
    monkeypatch.setattr(doctor, "sys", SimpleNamespace(version_info=(3, 9, 18),
                                                      executable="/usr/bin/python3.9"))
    check = _by_name(diagnose())["python"]
    assert check.status == "fail" and "3.9.18" in check.detail and "3.11" in check.fix


def test_compat_fix_inactive_or_no_longer_needed(monkeypatch):
    import thermal_action.compat as compat

    statuses = compat.fix_statuses()
    changed = [statuses[0]._replace(active=False), statuses[1]._replace(needed=False),
               *statuses[2:]]
    monkeypatch.setattr(compat, "fix_statuses", lambda: changed)
    checks = _by_name(diagnose())
    inactive = checks[f"compat {statuses[0].name}"]
    assert inactive.status == "fail" and "custom_imports" in inactive.fix
    fixed = checks[f"compat {statuses[1].name}"]
    assert fixed.status == "ok" and "no longer needed" in fixed.detail


def test_compat_fix_status_follows_the_patches(monkeypatch):
    import mmengine.dist.utils as dist_utils

    import thermal_action.compat as compat

    status = {fix.name: fix for fix in compat.fix_statuses()}
    assert status["distributed-on-cpu"].active and status["distributed-on-cpu"].needed
    monkeypatch.setattr(dist_utils, "_init_dist_pytorch",
                        compat._UPSTREAM["init_dist_pytorch"])  # as if never patched
    assert not {f.name: f for f in compat.fix_statuses()}["distributed-on-cpu"].active


def test_unregistered_module_type(monkeypatch):
    from mmaction.registry import TRANSFORMS

    monkeypatch.delitem(TRANSFORMS._module_dict, "CachedSteps")
    check = _by_name(diagnose())["registries"]
    assert check.status == "fail" and "CachedSteps (in " in check.detail


def test_data_root_in_one_line(tiny_root, tmp_path):
    check = _by_name(diagnose(tiny_root))["data root"]
    assert check.status == "ok" and "2 recordings" in check.detail and "0 errors" in check.detail
    (tiny_root / "frames" / "REC_B.h5").write_bytes(b"not hdf5")
    check = _by_name(diagnose(tiny_root))["data root"]
    assert check.status == "fail" and "REC_B.h5" in check.detail
    assert "data validate" in check.fix
    missing = _by_name(diagnose(tmp_path / "nowhere"))["data root"]
    assert missing.status == "fail" and "nowhere" in missing.detail


def test_doctor_cli_exit_codes(tiny_root):
    result = run_cli("doctor", "--data-root", str(tiny_root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "healthy: 0 problems, 0 warnings"
    (tiny_root / "frames" / "REC_A.h5").write_bytes(b"")
    broken = run_cli("doctor", "--data-root", str(tiny_root))
    assert broken.returncode == 1 and "FAIL  data root" in broken.stdout
    assert "fix: thermal-action data validate" in broken.stdout
