"""tk report: the page for every committed bundle and a fresh run, its numbers against the files it
was made from, hostile bundle text, and the page as headless Chromium shows it (no network)."""

import base64
import json
import re
import shutil
import struct
import subprocess

import pytest

from toolkit.report import build_report

from conftest import REPO

COMMITTED = sorted(p for p in (REPO / "exported").iterdir() if (p / "manifest.json").is_file())


def embedded_data(html: str) -> dict:
    block = re.search(r'<script type="application/json" id="tk-report-data">(.*?)</script>', html, re.S)
    return json.loads(block.group(1))


def onnx_row(verification: dict) -> dict:
    return next(r for r in verification["rows"] if (r["artifact"], r["runtime"]) == ("model.onnx", "onnxruntime-cpu"))


@pytest.mark.parametrize("bundle_dir", COMMITTED, ids=[p.name for p in COMMITTED])
def test_every_committed_bundle_gets_a_page_whose_numbers_match_its_files(bundle_dir, tmp_path):
    html, data = build_report(bundle_dir, bench_dir=tmp_path)  # no bench figures here: said, not an error
    assert embedded_data(html) == json.loads(json.dumps(data))
    on_disk = json.loads((bundle_dir / "verification.json").read_text())
    for shown, recorded in zip(data["verification"]["rows"], on_disk["rows"], strict=True):
        assert (shown["artifact"], shown["runtime"], shown["passed"]) == (
            recorded["artifact"],
            recorded["runtime"],
            recorded["passed"],
        )
        assert shown["max_abs"] == recorded.get("max_abs") and shown["accuracy"] == recorded.get("accuracy")
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    assert data["training"] == {k: v for k, v in manifest["training"].items() if k != "history"}
    # The page scores model.onnx on the test split itself; verify scored the same file on the same split.
    if manifest["task"] == "regression":
        assert data["test_mae"] == pytest.approx(onnx_row(on_disk)["mae"], rel=1e-4)
    else:
        assert data["test_accuracy"] == pytest.approx(onnx_row(on_disk)["accuracy"], abs=1e-9)
    assert any("tk bench" in m for m in data["missing"]) and "How fast it is" in html


def test_a_fresh_runs_page_draws_its_own_curves(cli, quick_run, quick_bundle, tmp_path):
    assert cli("verify", "--bundle", quick_bundle, "--skip", "torch.compile").exit_code == 0
    out = tmp_path / "page.html"
    result = cli("report", quick_bundle, "--out", out, "--bench-dir", tmp_path)
    assert result.exit_code == 0, result.output
    data = embedded_data(out.read_text())
    epochs = json.loads((quick_run / "metrics.json").read_text())["epochs"]
    assert data["history"] == [{k: e[k] for k in ("epoch", "train_loss", "test_accuracy", "seconds")} for e in epochs]
    assert 'alt="training curves"' in out.read_text() and (quick_run / "curves.png").is_file()
    assert data["training"]["device"] == "cpu" and data["training"]["epochs"] == len(epochs)


def test_hostile_bundle_text_is_escaped_and_broken_files_are_said(quick_bundle, tmp_path):
    manifest = json.loads((quick_bundle / "manifest.json").read_text())
    manifest["description"] = '<script>alert("x")</script><img src="http://example.com/x.png">'
    manifest["model"] = "$x^{$"  # malformed math for matplotlib (the curves' title)...
    manifest["labels"][6] = "$\\frac{$<i>"  # ...and markup for the page
    (quick_bundle / "manifest.json").write_text(json.dumps(manifest))
    row = {"artifact": "$\\sqrt{$", "runtime": "<i>", "rule": "exact", "max_abs": 1e-5, "passed": True}
    (quick_bundle / "verification.json").write_text(json.dumps({"passed": True, "atol": 1e-4, "rows": [row]}))
    html, data = build_report(quick_bundle, bench_dir=tmp_path)
    assert "<script>alert" not in html and 'src="http' not in html and "<i>" not in html
    for picture in ("training curves", "confusion matrix", "mistakes", "verification"):
        assert f'alt="{picture}"' in html  # drawn, with the names as plain text

    manifest["training"]["history"][1]["train_loss"] = "NaN"  # one bad epoch: no curves, said so
    (quick_bundle / "manifest.json").write_text(json.dumps(manifest))
    (quick_bundle / "verification.json").write_text('{"rows": [{"artifact": "<b>", "max_abs": NaN}]')  # truncated
    html, data = build_report(quick_bundle, bench_dir=tmp_path)
    assert data["verification"] is None and any("verification.json" in m for m in data["missing"])
    assert data["history"] == [] and any("history" in m for m in data["missing"])


def png_size(data_uri: str) -> tuple:
    png = base64.b64decode(data_uri.split(",", 1)[1])
    return struct.unpack(">II", png[16:24])


MEASURE_IMAGES = """<script>addEventListener("load", () => { for (const img of document.images)
  img.setAttribute("data-natural", img.naturalWidth + "x" + img.naturalHeight); });</script>"""


def test_the_page_in_headless_chromium(tmp_path):
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: scripts/setup.sh installs it (apt-get install chromium)"
    html, _ = build_report(REPO / "exported" / "fashion-mlp", bench_dir=tmp_path)
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    # A copy that records each picture's decoded size (the page's own policy allows no script).
    probe = html.replace("img-src data:;", "img-src data:; script-src 'unsafe-inline';").replace(
        "</body>", MEASURE_IMAGES + "</body>"
    )
    (tmp_path / "probe.html").write_text(probe)
    offline = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9"]
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", *offline]
    dom = subprocess.run(
        [*common, "--virtual-time-budget=5000", "--dump-dom", (tmp_path / "probe.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    shown = re.findall(r'<img alt="([^"]*)" src="([^"]*)" data-natural="(\d+)x(\d+)"', dom)
    assert len(shown) == len(sources) >= 3  # confusion matrix, mistakes, verification (no history committed)
    for alt, uri, width, height in shown:
        assert (int(width), int(height)) == png_size(uri), alt  # decoded at the size it was drawn
    (tmp_path / "page.html").write_text(html)
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            *common,
            "--hide-scrollbars",
            "--window-size=1200,3000",
            f"--screenshot={shot}",
            (tmp_path / "page.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    from PIL import Image, ImageStat

    picture = Image.open(shot).convert("L")
    assert picture.size == (1200, 3000) and ImageStat.Stat(picture).stddev[0] > 20  # not a blank page


def test_how_to_call_it_serves_the_model_and_its_snippet_answers(tmp_path):
    """The page's tk serve + tritonclient snippet, run as a user would copy it, against tk serve."""
    import sys

    from serving import start

    html, _ = build_report(REPO / "exported" / "fashion-mlp", bench_dir=tmp_path)
    assert "no server" not in html and "tk serve " in html and "podman run" in html
    code = re.search(r"<h3>HTTP: tk serve and tritonclient</h3><pre>(.*?)</pre>", html, re.S).group(1)
    import html as html_module

    lines = html_module.unescape(code).splitlines()
    assert lines[0].startswith("tk serve ")
    served = start(REPO / "exported" / "fashion-mlp")
    try:
        script = (
            "\n".join(lines[1:])
            .replace("localhost:8000", served.http)
            .replace("picture.png", str(REPO / "samples" / "sneaker-9.png"))
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    finally:
        served.stop()
    assert done.returncode == 0, done.stderr
    logits = [float(v) for v in done.stdout.replace("[", " ").replace("]", " ").split()]
    assert len(logits) == 10 and max(range(10), key=logits.__getitem__) == 7  # a sneaker
