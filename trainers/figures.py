"""Figures that training draws into a run's folder and the evaluation report draws too: the reliability diagram."""

from pathlib import Path

from matplotlib.figure import Figure  # not pyplot: no global state, no display backend, files only


def plot_reliability_diagram(calibration_result: dict, path: Path, title: str, before: dict | None = None) -> None:
    """Accuracy by confidence bin (`trainers.metrics.calibration`'s bins); with `before`, the bins before temperature scaling too,
    as outlines."""
    figure = Figure(figsize=(4.5, 4.5))
    axes = figure.subplots()
    series = [(calibration_result, "accuracy in bin" if before is None else "after scaling", {"edgecolor": "black"})]
    if before is not None:
        series.append((before, "before scaling", {"fill": False, "edgecolor": "tab:red", "linewidth": 1.5}))
    for result, label, style in series:
        filled = [entry for entry in result["bins"] if entry["count"]]
        width = filled[0]["upper"] - filled[0]["lower"] if filled else 0.1
        axes.bar(
            [entry["lower"] for entry in filled],
            [entry["accuracy"] for entry in filled],
            width=width,
            align="edge",
            label=label,
            **style,
        )
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    ece = f"ECE {calibration_result['expected_calibration_error']:.4f}"
    if before is not None:
        ece = f"ECE {before['expected_calibration_error']:.4f} before, {ece[4:]} after scaling"
    axes.set_title(f"{title}\n{ece}")
    axes.legend(loc="upper left")
    save_figure(figure, path)


def save_figure(figure: Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=120)
