"""make bench: run every benchmarks/bench_*.py module and print one table.

Each module has ``run(size)`` returning rows ``{"case", "what", "value", "unit", "target",
"note"}``. The table is printed and written to output/bench.md with the machine and the date.
Usage: python scripts/bench.py [--size small|large] [--only aggregate,index]
"""
import argparse
import datetime
import importlib.util
import os
import platform
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def machine():
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import numpy
    import pandas
    from qgis.core import Qgis
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB; {platform.platform()}; Python "
            f"{platform.python_version()}, QGIS {Qgis.QGIS_VERSION}, numpy {numpy.__version__}, "
            f"pandas {pandas.__version__}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="large", choices=("small", "large"))
    parser.add_argument("--only", default="")
    parser.add_argument("--out", default=os.path.join(ROOT, "output", "bench.md"))
    args = parser.parse_args()
    from composite_index_plugin.processing.standalone import start_qgis

    start_qgis()
    folder = os.path.join(ROOT, "benchmarks")
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    rows, failed = [], []
    for name in sorted(os.listdir(folder)):
        if not (name.startswith("bench_") and name.endswith(".py")):
            continue
        area = name[len("bench_"):-3]
        if only and area not in only:
            continue
        spec = importlib.util.spec_from_file_location(f"benchmarks.{area}", os.path.join(folder, name))
        module = importlib.util.module_from_spec(spec)
        t0 = time.time()
        print(f"== {area} ({args.size})", flush=True)
        try:
            spec.loader.exec_module(module)
            got = module.run(args.size)
        except Exception:  # noqa: BLE001 - a broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(area)
            continue
        for row in got:
            row.setdefault("area", area)
        rows.extend(got)
        print(f"   {len(got)} rows in {time.time() - t0:.0f} s", flush=True)
    header = ("| area | case | what | value | unit | target | note |\n"
              "|---|---|---|---|---|---|---|")
    lines = [header]
    for r in rows:
        value = r.get("value")
        text = f"{value:,.3g}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) \
            else str(value)
        lines.append(f"| {r['area']} | {r.get('case', '')} | {r.get('what', '')} | {text} | "
                     f"{r.get('unit', '')} | {r.get('target', '')} | {r.get('note', '')} |")
    stamp = datetime.date.today().isoformat()
    table = "\n".join(lines)
    report = f"Benchmarks ({args.size}), {stamp}, on {machine()}\n\n{table}\n"
    print("\n" + report)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write(report)
    if failed:
        print(f"Benchmarks that failed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
