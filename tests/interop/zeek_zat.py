"""Reads the simulator's Zeek logs with zat (the PyPI package analysts use to load Zeek logs
into pandas) and checks that every data row is read, with the header's types applied: `ts` as
a time, ports and byte counts as integers. Exit status 0 when all holds; the reason otherwise.

Run by crates/simulate/tests/interop.rs:  python3 tests/interop/zeek_zat.py DIR
"""
import glob
import os
import sys

from zat import zeek_log_reader
from zat.log_to_dataframe import LogToDataFrame


def main(folder):
    paths = sorted(glob.glob(os.path.join(folder, "*.log")))
    if not paths:
        return f"no Zeek logs in {folder}"
    for path in paths:
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            data_lines = sum(1 for line in f if line.strip() and not line.startswith("#"))
        rows = sum(1 for _ in zeek_log_reader.ZeekLogReader(path).readrows())
        if rows != data_lines:
            return f"{name}: zat read {rows} rows of {data_lines}"
        frame = LogToDataFrame().create_dataframe(path)
        if len(frame) != data_lines:
            return f"{name}: zat's data frame has {len(frame)} rows of {data_lines}"
        if frame.index.name != "ts" or str(frame.index.dtype) != "datetime64[ns]":
            return f"{name}: ts is not read as a time ({frame.index.dtype})"
        for column in ("id.orig_p", "id.resp_p"):
            if column in frame.columns and not str(frame[column].dtype).startswith("UInt"):
                return f"{name}: {column} is not read as an integer ({frame[column].dtype})"
        print(f"{name}: {rows} rows read by zat with their types")
    return None


if __name__ == "__main__":
    problem = main(sys.argv[1])
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(1)
