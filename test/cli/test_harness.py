"""The test harness's own cleanup (test/lib/cnitest.py), which test/run runs
before the first tier: what a killed earlier run left in /tmp must never
block it."""
import os
import subprocess
import sys

import cnitest


def test_remove_tree_never_opens_a_fifo(tmp_path):
    """A FIFO left where scratch directories go (a hostile test killed before
    its atexit) is removed, not opened: shutil.rmtree would wait for a writer."""
    fifo = tmp_path / "cbt-fifo"
    os.mkfifo(fifo)
    tree = tmp_path / "cbt-tree"
    (tree / "sub").mkdir(parents=True)
    os.mkfifo(tree / "sub" / "fifo")
    os.symlink("/etc", tree / "link")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import cnitest; "
            "[cnitest.remove_tree(p) for p in sys.argv[2:]]")
    p = subprocess.run([sys.executable, "-c", code, os.path.join(cnitest.ROOT, "test", "lib"),
                        str(fifo), str(tree), str(tmp_path / "missing")], timeout=30)
    assert p.returncode == 0
    assert not os.path.lexists(fifo) and not os.path.lexists(tree)
    assert os.path.isdir("/etc")
