"""Property-based tests: generated manifests, CSV files and image headers never give a traceback,
never touch a file outside the bundle, and never allocate without bound."""

import json
import shutil
import tracemalloc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.errors import BundleError, InputError, ToolkitError
from toolkit.runtime.preprocess import open_image
from toolkit.runtime.rows import rows_from_csv
from toolkit.runtime.schema import Manifest

from conftest import REFERENCE_BUNDLE

REFERENCE = json.loads((REFERENCE_BUNDLE / "manifest.json").read_text())
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def paths(data, prefix=()):
    """Every (path, value) in a JSON tree."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from paths(value, (*prefix, index))


ALL_PATHS = list(paths(REFERENCE))[1:]


def replaced(data, path, value):
    copy = json.loads(json.dumps(data))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), JSON_VALUES), min_size=1, max_size=3))
def test_a_mutated_manifest_is_read_or_refused_with_a_bundle_error(mutations):
    data = REFERENCE
    for path, value in mutations:
        try:
            data = replaced(data, path, value)
        except (KeyError, IndexError, TypeError):  # an earlier mutation removed the path
            continue
    try:
        Manifest.from_dict(data)
    except BundleError as exc:
        assert str(exc).startswith("manifest.json: ") and "\n" not in str(exc)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(ALL_PATHS), JSON_VALUES)
def test_a_mutated_bundle_touches_nothing_outside_itself(tmp_path_factory, path, value):
    from toolkit.runtime import Predictor

    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(REFERENCE_BUNDLE, root / "bundle")
    (root / "victim.txt").write_text("keep me")
    (root / "bundle" / "manifest.json").write_text(json.dumps(replaced(REFERENCE, path, value)))
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    try:
        Predictor(root / "bundle", device="cpu")
    except ToolkitError as exc:
        assert "\n" not in str(exc)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before
    assert (root / "victim.txt").read_text() == "keep me"


@SETTINGS
@given(
    st.binary(max_size=2000)
    | st.text(alphabet=st.sampled_from(list('0123456789.,;\t-+eE"x \n\r')), max_size=400).map(str.encode)
)
def test_any_csv_file_gives_rows_or_row_errors(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("csv") / "rows.csv"
    path.write_bytes(content)
    for row in rows_from_csv(path, ["a", "b", "c"]):
        if row.error is None:
            assert len(row.values) == 3 and all(abs(v) <= 3.5e38 for v in row.values)
        else:
            assert row.error.startswith(str(path)) and "\n" not in row.error


HEADERS = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"RIFF\x00\x00\x00\x00WEBP"]


@SETTINGS
@given(st.sampled_from(HEADERS), st.binary(max_size=400))
def test_any_image_header_gives_an_image_or_an_input_error_in_bounded_memory(tmp_path_factory, header, rest):
    path = tmp_path_factory.mktemp("image") / "image.bin"
    path.write_bytes(header + rest)
    tracemalloc.start()
    try:
        open_image(path)
    except InputError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 64 * 2**20
