"""The run folder's own guarantees: one process at a time, atomic and torn-proof config, moved folders resume,
finished runs re-run on read-only files."""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from vistakit.config import ConfigError, RunConfig, to_dict
from vistakit.loop import check_model, check_resume_config
from vistakit.runfolder import RunFolderLocked, RunLock, write_json_if_changed


def test_a_second_process_is_refused_naming_the_holder(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunFolderLocked, match=rf"in use by pid {os.getpid()} on .* since 20"):
            with RunLock(tmp_path):
                pass
    with RunLock(tmp_path):  # released: free again
        pass


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    code = ("import sys, time; from vistakit.runfolder import RunLock\n"
            f"with RunLock({str(tmp_path)!r}):\n    print('held', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    with pytest.raises(RunFolderLocked, match=f"pid {proc.pid}"):
        with RunLock(tmp_path):
            pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with RunLock(tmp_path):  # the kernel dropped the dead holder's lock
        assert f"pid {os.getpid()}" in (tmp_path / ".lock").read_text()


def test_the_lock_file_stays_and_names_only_its_last_holder(tmp_path):
    code = f"from vistakit.runfolder import RunLock\nwith RunLock({str(tmp_path)!r}):\n    pass\n"
    subprocess.run([sys.executable, "-c", code], check=True)  # another process, released normally
    with RunLock(tmp_path):
        assert (tmp_path / ".lock").read_text().count("pid ") == 1
    assert (tmp_path / ".lock").exists()  # the report reads when a run took its folder from it


def test_torn_config_is_said_and_replaced(tmp_path, caplog):
    path = tmp_path / "config.yaml"
    for torn in ("", "method: rest-em\nsampling: {samples_per"):
        path.write_text(torn)
        with caplog.at_level("WARNING"):
            check_resume_config(path, to_dict(RunConfig()))
        assert "empty or torn" in caplog.text and not path.exists()


def test_moved_folder_resumes_and_other_configs_are_refused(tmp_path):
    path = tmp_path / "config.yaml"
    cfg = to_dict(RunConfig(run_dir="runs/old-place"))
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    check_resume_config(path, to_dict(RunConfig(run_dir=str(tmp_path))))  # only run_dir differs
    changed = to_dict(RunConfig(run_dir=str(tmp_path), rounds=5))
    with pytest.raises(ConfigError, match="rounds differ: rounds: 3 there, 5 now") as e:
        check_resume_config(path, changed)
    assert "add rounds=3 to the command" in str(e.value)  # how to resume after a preset's default moved


def test_unchanged_metrics_are_not_rewritten(tmp_path):
    path = tmp_path / "metrics.json"
    write_json_if_changed(path, [{"round": 0}])
    path.chmod(0o444)
    before = path.stat().st_mtime_ns
    time.sleep(0.01)
    write_json_if_changed(path, [{"round": 0}])  # read-only and identical: left alone
    assert path.stat().st_mtime_ns == before
    path.chmod(0o644)
    write_json_if_changed(path, [{"round": 1}])
    assert '"round": 1' in path.read_text()


def test_model_base_is_checked_before_any_work(tmp_path):
    from vistakit.config import load_config

    def loop(base):
        return check_model(load_config(None, [f"model.base={base}", f"run_dir={tmp_path / 'run'}"]))

    with pytest.raises(ConfigError, match=r"model.base: no checkpoint folder at .*missing"):
        loop(tmp_path / "missing")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text("{}")
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(ConfigError, match="pickled weights only .* refuses pickles on purpose"):
        loop(pickled)
    loop("Qwen/Qwen2.5-VL-3B-Instruct")  # a hub id is left to the hub: no error here
    assert not (tmp_path / "run").exists()  # nothing was written
