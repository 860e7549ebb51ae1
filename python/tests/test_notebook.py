"""examples/notebooks/elpv_tour.ipynb, executed headless as a user's Jupyter would run it, so it
never rots: every cell runs without error and shows what its text promises (the thumbnails with
their labels, the predictions, an accuracy above the majority-class baseline, the plot).

The notebook runs in its own kernel, a separate process with its own Spark (local[*], so local[2]
on CI; its last cell stops it), started from this interpreter through a kernelspec written to a
temporary folder: no user-wide Jupyter set-up is read. 78 to 149 s measured on two shared cores
under load (load average 8 to 10), most of it Spark's start and MobileNetV2 on 199 images.
"""

import base64
import io
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from PIL import Image

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebooks" / "elpv_tour.ipynb"
KERNEL = "sparkdl-notebook-test"


def cell(nb, tag: str):
    tagged = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{NOTEBOOK.name}: expected one cell tagged {tag!r}, found {len(tagged)}"
    return tagged[0]


def text(c) -> str:
    out = []
    for o in c.outputs:
        if o.output_type == "stream" and o.name == "stdout":
            out.append(o.text)
        elif o.output_type in ("execute_result", "display_data") and "text/plain" in o.data:
            out.append(o.data["text/plain"])
    return "".join(out)


def pngs(c) -> list:
    return [
        Image.open(io.BytesIO(base64.b64decode(o.data["image/png"])))
        for o in c.outputs
        if o.output_type == "display_data" and "image/png" in o.data
    ]


def test_the_committed_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, (
        f"{NOTEBOOK.name}: cells {dirty} carry outputs or execution counts; "
        "commit it cleared (Jupyter: Edit > Clear Outputs of All Cells)"
    )


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    tmp = tmp_path_factory.mktemp("notebook")
    spec = tmp / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "sparkdl test",
                "language": "python",
                # IPython's profile and history in the temporary folder, not the user's; figures
                # inline as in Jupyter, whatever MPLBACKEND this process has (the kernel inherits it).
                "env": {"IPYTHONDIR": str(tmp / "ipython"), "MPLBACKEND": "module://matplotlib_inline.backend_inline"},
            }
        )
    )
    km = KernelManager(
        kernel_name=KERNEL,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp / "kernels")], ensure_native_kernel=False),
    )
    nb = nbformat.read(NOTEBOOK, as_version=4)
    work = tmp / "cwd"  # the kernel's working directory (Spark's spark-warehouse and the like)
    work.mkdir()
    # A cell that fails raises CellExecutionError with its traceback; the kernel is shut down either way.
    NotebookClient(nb, km=km, timeout=600, kernel_name=KERNEL, resources={"metadata": {"path": str(work)}}).execute()
    return nb


def test_the_notebook_runs_without_errors(executed):
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert all(c.execution_count for c in executed.cells if c.cell_type == "code")


def test_the_notebook_shows_the_data_and_the_predictions(executed):
    assert re.search(r"\|\s*defective\s*\|", text(cell(executed, "images")))
    assert re.search(r"\|\s*functional\s*\|", text(cell(executed, "images")))
    split = re.search(r"(\d+) images to train on, (\d+) held out", text(cell(executed, "split")))
    assert split, text(cell(executed, "split"))
    assert int(split.group(1)) + int(split.group(2)) == 199
    shown = text(cell(executed, "fit"))
    assert re.search(r"\|\s*name\s*\|\s*class\s*\|\s*predicted\s*\|\s*probability\s*\|", shown), shown
    assert len(re.findall(r"\|\s*cell0\d{3}\.png\s*\|", shown)) == 8, shown


def test_the_accuracy_is_above_the_majority_class(executed):
    printed = text(cell(executed, "accuracy"))
    found = re.search(r"accuracy (\d\.\d{3}) on (\d+) held-out images; always 'functional': (\d\.\d{3})", printed)
    assert found, printed
    accuracy, held_out, majority = float(found.group(1)), int(found.group(2)), float(found.group(3))
    assert 0.4 < majority < 0.7, printed  # 107 of the 199 are functional
    assert accuracy > majority + 0.05, printed
    assert held_out > 30


def test_the_notebook_shows_the_thumbnails_and_the_accuracy_plot(executed):
    thumbnails = pngs(cell(executed, "thumbnails"))
    assert len(thumbnails) == 1
    assert min(thumbnails[0].size) > 500  # a 4x4 grid of the images, not an empty figure
    plot = pngs(cell(executed, "accuracy-plot"))
    assert len(plot) == 1
    assert plot[0].size[0] > 300
