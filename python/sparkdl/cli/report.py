"""One self-contained HTML report of a classification job: accuracy with and without transfer
learning, a confusion matrix, per-class precision and recall, and sample images with predicted
and true labels, mistakes first. Plots are drawn with matplotlib and embedded as PNG data URIs,
so the file opens anywhere and can be mailed as is."""

import base64
import datetime
import html
import io
from typing import Dict, List, Optional, Sequence, Tuple

# Marks the page once every embedded image has decoded (checked by the tests in a browser).
_IMAGES_LOADED = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  document.body.dataset.imagesLoaded = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesTotal = imgs.length;
});
</script>"""

# (path, true label, predicted label, probability of the prediction or None)
Prediction = Tuple[str, str, str, Optional[float]]


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def confusion(predictions: Sequence[Prediction], labels: Sequence[str]) -> List[List[int]]:
    index = {label: i for i, label in enumerate(labels)}
    m = [[0] * len(labels) for _ in labels]
    for _, truth, predicted, _ in predictions:
        if truth in index and predicted in index:
            m[index[truth]][index[predicted]] += 1
    return m


def per_class(matrix: List[List[int]], labels: Sequence[str]) -> List[Dict[str, float]]:
    rows = []
    for i, label in enumerate(labels):
        tp = matrix[i][i]
        predicted = sum(matrix[r][i] for r in range(len(labels)))
        actual = sum(matrix[i])
        rows.append(
            {
                "label": label,
                "precision": tp / predicted if predicted else 0.0,
                "recall": tp / actual if actual else 0.0,
                "support": actual,
            }
        )
    return rows


def _accuracy_plot(runs: Sequence[Dict]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 0.6 + 0.55 * len(runs)))
    names = [r["name"] for r in runs][::-1]
    values = [r["accuracy"] for r in runs][::-1]
    bars = ax.barh(names, values, color=["#9aa5b1"] * (len(runs) - 1) + ["#2b6cb0"])
    for bar, v in zip(bars, values):
        ax.text(v + 0.005, bar.get_y() + bar.get_height() / 2, f"{v:.3f}", va="center")
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("held-out accuracy")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _confusion_plot(matrix: List[List[int]], labels: Sequence[str]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.6 + 0.9 * n, 1.2 + 0.8 * n))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = max(max(r) for r in matrix) if matrix else 0
    for i in range(n):
        for j in range(n):
            ax.text(
                j, i, str(matrix[i][j]), ha="center", va="center", color="white" if matrix[i][j] > top / 2 else "black"
            )
    return _png(fig)


def thumbnail(data: bytes, size: int = 112) -> Optional[str]:
    """A PNG data URI of an encoded image, at most `size` pixels on a side (None if unreadable)."""
    from PIL import Image

    try:
        img = Image.open(io.BytesIO(data))
        img.thumbnail((size, size))
        buf = io.BytesIO()
        img.convert("RGB").save(buf, format="PNG")
    except Exception:
        return None
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def render(
    title: str,
    runs: Sequence[Dict],
    labels: Sequence[str],
    predictions: Sequence[Prediction],
    images: Dict[str, str],
    notes: Sequence[str] = (),
) -> str:
    """The report's HTML. ``runs``: [{"name", "accuracy", ...}], the main model last;
    ``predictions``: of the main model; ``images``: path -> thumbnail data URI."""
    matrix = confusion(predictions, labels)
    classes = per_class(matrix, labels)
    mistakes = [p for p in predictions if p[1] != p[2]]
    samples = [p for p in mistakes if p[0] in images] + [p for p in predictions if p[1] == p[2] and p[0] in images]
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(r['name'])}</td><td class=num>{r['accuracy']:.4f}</td><td>{esc(r.get('detail', ''))}</td></tr>"
        for r in runs
    )
    class_rows = "".join(
        f"<tr><td>{esc(c['label'])}</td><td class=num>{c['precision']:.3f}</td>"
        f"<td class=num>{c['recall']:.3f}</td><td class=num>{c['support']}</td></tr>"
        for c in classes
    )
    cells = "".join(
        f"<figure class='{'wrong' if t != p else 'right'}'><img alt='{esc(path)}' src='{images[path]}'>"
        f"<figcaption>predicted <b>{esc(p)}</b>{'' if prob is None else f' ({prob:.2f})'}<br>true {esc(t)}"
        f"</figcaption></figure>"
        for path, t, p, prob in samples
    )
    notes_html = "".join(f"<li>{esc(n)}</li>" for n in notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #1a202c; }}
table {{ border-collapse: collapse; margin: .5em 0 1.5em; }}
td, th {{ border-bottom: 1px solid #e2e8f0; padding: .3em .9em; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 10px; }}
figure {{ margin: 0; width: 130px; font-size: 12px; }}
figure img {{ width: 112px; height: 112px; object-fit: contain; background: #f7fafc; border: 3px solid #38a169; }}
figure.wrong img {{ border-color: #e53e3e; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>Generated {datetime.datetime.now().strftime("%Y-%m-%d %H:%M")} by sparkdl.</p>
<ul>{notes_html}</ul>
<h2>Accuracy with and without transfer learning</h2>
<table id="accuracy"><tr><th>model</th><th>accuracy</th><th></th></tr>{rows}</table>
<img alt="accuracy chart" src="{_accuracy_plot(runs)}">
<h2>Confusion matrix</h2>
<img alt="confusion matrix" src="{_confusion_plot(matrix, labels)}">
<h2>Precision and recall per class</h2>
<table id="classes"><tr><th>class</th><th>precision</th><th>recall</th><th>images</th></tr>{class_rows}</table>
<h2>Sample predictions ({len(mistakes)} mistakes of {len(predictions)}; mistakes first)</h2>
<div class="grid" id="samples">{cells}</div>
{_IMAGES_LOADED}
</body></html>
"""


def render_similarity(
    title: str,
    notes: Sequence[str],
    groups: Sequence[Tuple[str, Sequence[Tuple[str, str]]]],
    images: Dict[str, str],
) -> str:
    """A report of image sets side by side: ``groups`` is [(heading, [(path, caption), ...])], one
    row of thumbnails each (a query and its neighbours, or a group of duplicates); ``images``:
    path -> thumbnail data URI (a path without one shows its name only)."""
    esc = html.escape

    def figure(path: str, caption: str) -> str:
        name = path.rstrip("/").rsplit("/", 1)[-1]
        img = f"<img alt='{esc(path)}' src='{images[path]}'>" if path in images else "<div class=missing></div>"
        return (
            f"<figure title='{esc(path)}'>{img}<figcaption><b>{esc(caption)}</b><br>{esc(name)}</figcaption></figure>"
        )

    sections = "".join(
        f"<section class=group><h3>{esc(heading)}</h3><div class=row>{''.join(figure(p, c) for p, c in members)}</div>"
        "</section>"
        for heading, members in groups
    )
    notes_html = "".join(f"<li>{esc(n)}</li>" for n in notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #1a202c; }}
section.group {{ border-bottom: 1px solid #e2e8f0; padding: .4em 0 .8em; }}
h3 {{ font-size: 14px; margin: .3em 0; word-break: break-all; }}
.row {{ display: flex; flex-wrap: wrap; gap: 10px; }}
figure {{ margin: 0; width: 130px; font-size: 12px; word-break: break-all; }}
figure img, div.missing {{ width: 120px; height: 120px; object-fit: contain; background: #f7fafc;
  border: 1px solid #cbd5e0; }}
figure:first-child img {{ border: 3px solid #2b6cb0; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>Generated {datetime.datetime.now().strftime("%Y-%m-%d %H:%M")} by sparkdl.</p>
<ul>{notes_html}</ul>
<div id="groups" data-groups="{len(groups)}">{sections}</div>
{_IMAGES_LOADED}
</body></html>
"""
