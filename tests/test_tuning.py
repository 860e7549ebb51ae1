"""Distributed tuning (KerasImageFileEstimator, fitMultiple, sparkdl.tuning.CrossValidator) on a
local master and on the standalone cluster: the same job (tests/tuning_job.py) on both."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_job(master, scratch):
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "tuning_job.py"), master, str(scratch)],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-6000:]
    return json.loads(proc.stdout.split("RESULT ")[-1])


def check(out, local):
    assert out["accuracy_one_hot"] >= 0.9
    assert out["accuracy_label"] >= 0.9 and out["accuracy_vec"] >= 0.9  # class indices, sparse vectors
    assert out["reloaded_same"] is True
    # The failing trial names its map; the maps before it came back, under their own indices.
    assert out["fit_multiple_first"] == [0]
    assert "no_such_loss" in out["fit_multiple_error"] and '"kerasLoss"' in out["fit_multiple_error"]
    assert out["fit_multiple_indices"] == [0, 1]
    # A fitted model comes back under its own map's index: 0 epochs is the starting model itself.
    assert out["epochs0_is_initial"] <= 1e-6 and out["epochs40_accuracy"] == 1.0
    assert out["same_seed_max_diff"] == 0.0  # the seed makes training repeatable, shuffling included
    # On folds of 4 red and 4 blue pictures, every trial learns its training rows, and
    # CrossValidator's metrics are those of each fold's own models on that fold's validation rows.
    assert out["keras_cv_train_accuracy"] == [1.0, 1.0, 1.0, 1.0]
    assert out["keras_cv_metrics"] == out["keras_cv_by_hand"], (out["keras_cv_metrics"], out["keras_cv_by_hand"])
    assert len(out["keras_cv_metrics"]) == 2 and max(out["keras_cv_metrics"]) >= 0.9
    ours, spark = out["tuning_metrics"]
    # The same folds, the same features: the same metrics as Spark's CrossValidator.
    assert len(ours) == 4 and all(abs(a - b) < 1e-9 for a, b in zip(ours, spark)), (ours, spark)
    assert out["tuning_best_stages"] == ["DeepImageFeaturizer", "LogisticRegressionModel"]
    assert out["tuning_best_accuracy"] >= 0.9
    if local:
        # 2 distinct featurizations, once each; Spark's CrossValidator featurizes every fold and map.
        assert out["tuning_passes"][0] == 2.0
        assert out["tuning_passes"][1] >= 12.0


def test_tuning_in_local_mode(tmp_path):
    check(run_job("local[2]", tmp_path), local=True)


def test_tuning_on_a_standalone_cluster(standalone_cluster, tmp_path):
    check(run_job(standalone_cluster.url, tmp_path), local=False)


def test_the_originals_tuning_example_runs(tmp_path):
    root = os.path.dirname(HERE)
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    proc = subprocess.run(
        [
            sys.executable,
            os.path.join(root, "examples", "keras_image_file_estimator.py"),
            "--fraction",
            "0.03",
            "--master",
            "local[2]",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert "area under ROC per fit params:" in proc.stdout and "best: {" in proc.stdout, proc.stdout[-2000:]


def test_the_elpv_tuning_recipe_runs(tmp_path):
    """examples/tuning_elpv.py (the README's recipe) on a 4% sample, 2 folds: 8 maps, 4 featurizations."""
    root = os.path.dirname(HERE)
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    out_json = tmp_path / "out.json"
    proc = subprocess.run(
        [
            sys.executable,
            os.path.join(root, "examples", "tuning_elpv.py"),
            "--fraction",
            "0.04",
            "--folds",
            "2",
            "--master",
            "local[2]",
            "--json",
            str(out_json),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    out = json.loads(out_json.read_text())
    assert out["maps"] == 8 and len(out["table"]) == 8
    assert out["featurization_passes"] == 4.0  # 2 layers x 2 sizes, each once, whatever the folds
    assert out["best"]["featureLayer"] in ("pool", "multiscale") and out["best"]["imageSize"] in (224, 300)
    assert out["best_accuracy"] == max(row["accuracy"] for row in out["table"])


def test_ties_go_to_the_first_map_as_in_spark():
    from sparkdl.tuning import _better

    assert _better(0.9, 1, (0.8, 3), larger_better=True)
    assert not _better(0.8, 5, (0.8, 3), larger_better=True) and _better(0.8, 2, (0.8, 3), larger_better=True)
    assert _better(0.1, 4, (0.2, 0), larger_better=False) and not _better(0.3, 0, (0.2, 1), larger_better=False)
