"""Build the sample bundled with streamsim: ``streamsim/sample/``.

Converts the 2023 BTCUSDT Binance USD-M recording (``../shared/data/binance-usdm-capture``,
MIT, from the hftbacktest project) into the CryptoHFTData layout with the project's own
code, adds seeded synthetic open interest, and copies the recording's licence::

    python benchmarks/make_sample.py [--data DIR]

The output is deterministic (same data, same seed, same pyarrow: same files). The whole
sample must stay under 5 MB; the script fails otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from adapters.binance.sample import CAPTURE_FILES, build_sample

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "streamsim" / "sample"
DATA = ROOT.parent / "shared" / "data" / "binance-usdm-capture"
LIMIT = 5_000_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="binance-usdm-capture dir")
    args = parser.parse_args()
    tree = SAMPLE / "cryptohftdata"
    if tree.exists():
        shutil.rmtree(tree)
    written = build_sample([args.data / name for name in CAPTURE_FILES], tree)
    shutil.copyfile(args.data / "LICENSE", SAMPLE / "LICENSE")
    for path in written:
        print(f"{path.stat().st_size:>10,}  {path.relative_to(SAMPLE)}")
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    print(f"{total:>10,}  total under {SAMPLE.relative_to(ROOT)}")
    if total >= LIMIT:
        print(f"the sample is over {LIMIT:,} bytes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
