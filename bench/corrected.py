"""Do FMA's quirks cost accuracy? Corrected feature families beside FMA's, on gtzan-mini.

    python bench/corrected.py [--audio ../shared/data/gtzan-mini] [--folds 5] [--repeats 4]

FMA's features.py maps its 12-bins-per-octave CQT to chroma with librosa's default of 36
bins per octave (chroma_cqt, chroma_cens and the tonnetz built on it), computes rmse from
the windowed STFT rather than the waveform, and leaves ``sr`` out of the spectral calls.
At gtzan-mini's 22,050 Hz the missing ``sr`` changes nothing (it is librosa's default),
so the corrections that can differ here are the 12-bin chroma mapping and the waveform
RMS. For each, the corrected family replaces FMA's in the feature sets the family search
chooses from, and the same model is cross-validated on both: standardised logistic
regression (the clip-level champion of ``bench/gtzan.py``) with C chosen by an inner
3-fold search, repeated stratified K-fold outside. A corrected family earns a place
beside mfcc_corr only if it raises macro-F1 by more than the noise between repeats.
Prints a table; always exits 0.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fma_pipeline.core.audio.decode import decode  # noqa: E402
from fma_pipeline.core.audio.features import (  # noqa: E402
    FEATURE_SIZES, FeatureConfig, flat_feature_names, frame_series, summarise,
)
from fma_pipeline.core.audio.moments import describe  # noqa: E402
from fma_pipeline.core.learning.families import FAMILY_SETS, family_mask  # noqa: E402

OFFSETS = dict(zip(FEATURE_SIZES, np.cumsum([0, *FEATURE_SIZES.values()]).tolist()))


def corrected_series(y: np.ndarray, series: np.ndarray, config: FeatureConfig) -> dict[str, np.ndarray]:
    """The corrected families' frame series: chroma mapped with 12 bins per octave, waveform RMS."""
    import librosa

    from fma_pipeline.core.audio.cqt import cqt_magnitude
    from fma_pipeline.core.audio.tuning import estimate_tuning

    magnitude = np.abs(librosa.stft(y, n_fft=config.n_fft, hop_length=config.hop_length))
    cqt = cqt_magnitude(y, config.sr, estimate_tuning(magnitude, config.sr), hop_length=config.hop_length)
    n = series.shape[1]
    args = dict(C=cqt, n_chroma=12, n_octaves=7, bins_per_octave=12)
    cens = librosa.feature.chroma_cens(**args)
    return {
        "chroma_cqt12": librosa.feature.chroma_cqt(**args)[:, :n],
        "chroma_cens12": cens[:, :n],
        "tonnetz12": librosa.feature.tonnetz(chroma=cens)[:, :n],
        "rmse_waveform": librosa.feature.rms(y=y, frame_length=config.n_fft, hop_length=config.hop_length)[:, :n],
    }


def load(audio: Path) -> tuple[pd.DataFrame, pd.Series]:
    """FMA's 708 columns plus the corrected families' statistics, one row per clip."""
    config = FeatureConfig(sr=22_050)
    rows, labels = {}, {}
    for path in sorted(audio.glob("*.wav")):
        y = decode(path, sr=config.sr)
        series = frame_series(y, config)
        row = dict(zip(flat_feature_names(), summarise(series)))
        for family, values in corrected_series(y, series, config).items():
            table = describe(values)  # (7 statistics, rows)
            for s, stat in enumerate(("kurtosis", "max", "mean", "median", "min", "skew", "std")):
                row.update({f"{family}.{stat}.{i + 1:02d}": v for i, v in enumerate(table[s])})
        rows[path.stem] = row
        labels[path.stem] = path.stem.split(".")[0]
    return pd.DataFrame.from_dict(rows, orient="index"), pd.Series(labels)


def columns(frame: pd.DataFrame, families: tuple[str, ...]) -> list[str]:
    return [c for c in frame.columns if c.split(".", 1)[0] in families]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", default=str(ROOT.parent / "shared" / "data" / "gtzan-mini"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    audio = Path(args.audio)
    if not audio.is_dir():
        print(f"skipped: no audio folder at {audio} (../shared/data is absent on a fresh clone)")
        return 0
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    warnings.simplefilter("ignore")
    X, y = load(audio)
    assert family_mask("all").sum() == len(flat_feature_names())
    swaps = {"chroma 12 bins/octave": {"chroma_cqt": "chroma_cqt12", "chroma_cens": "chroma_cens12",
                                       "tonnetz": "tonnetz12"},
             "waveform rms": {"rmse": "rmse_waveform"}}
    outer = RepeatedStratifiedKFold(n_splits=args.folds, n_repeats=args.repeats, random_state=0)
    model = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
                         {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]}, cv=3, scoring="f1_macro")
    print(f"{len(X)} clips, {y.nunique()} genres at 22,050 Hz; {args.repeats}x{args.folds}-fold CV, "
          f"logistic regression (C by inner 3-fold CV); macro-F1 mean ± std over outer folds\n")
    rows = []
    for set_name, families in FAMILY_SETS.items():
        base = cross_val_score(model, X[columns(X, families)], y, cv=outer, scoring="f1_macro")
        for swap_name, swap in swaps.items():
            if not set(swap) & set(families):
                continue
            changed = tuple(swap.get(f, f) for f in families)
            score = cross_val_score(model, X[columns(X, changed)], y, cv=outer, scoring="f1_macro")
            rows.append({"family set": set_name, "correction": swap_name, "FMA's": base.mean(),
                         "corrected": score.mean(), "gain": score.mean() - base.mean(),
                         "std of gain": np.std(score - base)})
            print(f"  {set_name:10s} {swap_name:22s} FMA's {base.mean():.3f} ± {base.std():.3f}   "
                  f"corrected {score.mean():.3f} ± {score.std():.3f}   gain {score.mean() - base.mean():+.3f} "
                  f"(per-fold std {np.std(score - base):.3f})", flush=True)
    table = pd.DataFrame(rows)
    print("\n" + table.to_string(index=False, float_format=lambda v: f"{v:+.3f}" if abs(v) < 0.5 else f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
