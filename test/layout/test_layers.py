"""The layer table of the README's layout section, enforced: every
`#include "layer/..."` under src/ and every layer dependency named in a
src/<layer>/meson.build must go to a layer that the including layer's row
lists (or to itself). A static library per layer does not stop an upward
include on its own (every header is on the include path): this does."""
import pathlib
import re
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
DEP = re.compile(r"\b([a-z]+)_dep\b")


def layer_table(readme):
    """{layer: set of layers it may include} from the README's table."""
    text = readme.read_text()
    section = text.split("\n## Layout", 1)[1].split("\n## ", 1)[0]
    rows = {}
    in_table = False
    for line in section.splitlines():
        if line.startswith("| Layer | May include |"):
            in_table = True
            continue
        if not in_table:
            continue
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if set(cells[0]) <= set("-: "):
            continue
        name = cells[0].strip("`")
        deps = {d.strip().strip("`") for d in cells[1].split(",")} - {"—", "-", ""}
        rows[name.removesuffix(".cpp")] = deps
    return rows


def layer_of(path, src):
    rel = path.relative_to(src)
    return rel.parts[0].removesuffix(".cpp") if len(rel.parts) > 1 or rel.name == "main.cpp" else None


def violations(root):
    """Every edge that goes against the table, as text lines."""
    src = root / "src"
    table = layer_table(root / "README.md")
    bad = []
    for d in sorted(p for p in src.iterdir() if p.is_dir()):
        if d.name not in table:
            bad.append(f"src/{d.name}/ is not in the README's layer table")
    for f in sorted(src.rglob("*")):
        if not f.is_file() or f.suffix not in (".h", ".cpp", ".in", ".inc"):
            continue
        me = layer_of(f, src)
        if me is None or me not in table:
            continue
        for inc in INCLUDE.findall(f.read_text(errors="replace")):
            if "/" not in inc:
                continue  # config.h: generated, no layer
            to = inc.split("/", 1)[0]
            if to == me:
                continue
            if to not in table:
                bad.append(f"{f.relative_to(root)}: includes \"{inc}\" from no known layer")
            elif to not in table[me]:
                bad.append(f"{f.relative_to(root)}: {me} includes \"{inc}\" ({to} is not below {me})")
    for mb in sorted(src.glob("*/meson.build")):
        me = mb.parent.name
        if me not in table:
            continue
        text = re.sub(r"#.*", "", mb.read_text())
        for to in sorted(set(DEP.findall(text))):
            if to == me or to not in table:
                continue  # own dep, or a system library's (libnl_dep, rapidjson_dep, ...)
            if to not in table[me]:
                bad.append(f"{mb.relative_to(root)}: {me} depends on {to}_dep ({to} is not below {me})")
    return bad


def test_table_is_a_dag_over_known_layers():
    table = layer_table(ROOT / "README.md")
    assert {"util", "cni", "ipam", "netlink", "netfilter", "attach", "applets", "main"} <= set(table)
    for me, deps in table.items():
        assert deps <= set(table), f"{me} names unknown layers {deps - set(table)}"
    # Kahn's algorithm: a cycle leaves layers behind.
    left = {k: set(v) for k, v in table.items()}
    while True:
        free = [k for k, v in left.items() if not v]
        if not free:
            break
        for k in free:
            del left[k]
        for v in left.values():
            v.difference_update(free)
    assert not left, f"the layer table has a cycle among {sorted(left)}"
    assert table["util"] == set()


def test_every_include_goes_down():
    bad = violations(ROOT)
    assert not bad, "\n".join(bad)


@pytest.fixture
def tree(tmp_path):
    shutil.copytree(ROOT / "src", tmp_path / "src")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    return tmp_path


def test_an_upward_include_is_caught(tree):
    f = tree / "src/ipam/store.cpp"
    f.write_text('#include "netlink/netlink.h"\n' + f.read_text())
    assert any("ipam includes \"netlink/netlink.h\"" in b for b in violations(tree))


def test_an_upward_meson_dependency_is_caught(tree):
    mb = tree / "src/cni/meson.build"
    mb.write_text(mb.read_text().replace("dependencies: [util_dep", "dependencies: [netlink_dep, util_dep", 1))
    assert any("cni depends on netlink_dep" in b for b in violations(tree))


def test_a_folder_outside_the_table_is_caught(tree):
    (tree / "src/extra").mkdir()
    (tree / "src/extra/x.h").write_text("#pragma once\n")
    assert any("src/extra/" in b for b in violations(tree))


# The static build links Debian's libstdc++.a, compiled against glibc, with
# musl (packaging/build-static.sh). Classes whose layout holds a glibc type
# that musl sizes differently break at that seam: std::basic_filebuf holds a
# pthread_mutex_t (48 bytes in glibc on arm64, 40 in musl: the fstreams
# crash there) and the streams' locale code reads glibc's locale structure
# out of musl's (istream >> misreads or crashes on every architecture).
# Product code uses none of them.
SYSTEM_INCLUDE = re.compile(r'^\s*#\s*include\s+<([^>]+)>', re.M)
MUSL_SEAM = {"fstream", "iostream", "istream", "ostream", "sstream", "locale", "mutex", "shared_mutex",
             "condition_variable", "thread", "future", "regex", "syncstream", "spanstream"}


def seam_includes(root):
    return [f"{f.relative_to(root)}: #include <{h}>" for f in sorted((root / "src").rglob("*"))
            if f.is_file() and f.suffix in (".h", ".cpp")
            for h in SYSTEM_INCLUDE.findall(f.read_text(errors="replace")) if h in MUSL_SEAM]


def test_no_libstdcxx_class_that_breaks_on_musl():
    bad = seam_includes(ROOT)
    assert not bad, "\n".join(bad)


def test_a_seam_include_is_caught(tree):
    f = tree / "src/util/text.cpp"
    f.write_text("#include <sstream>\n" + f.read_text())
    assert seam_includes(tree) == ["src/util/text.cpp: #include <sstream>"]
