"""Bad schedule files and traces: one ScheduleError naming the field or file, no warnings, no
leftover ``.tmp`` (``schedule import``, ``load_schedule``, ``Schedule.save`` and their CLI commands)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from asyncconv.cli import main
from asyncconv.config import ConfigError
from asyncconv.schedule import ScheduleError, load_schedule, load_trace_csv, schedule_from_trace

K = 300
HEADER = "writer,block,read_lo,read_hi,t_read,t_write"


def _rows(k: int = K) -> list[list[str]]:
    """A valid 2-worker, 2-block trace: worker k % 2 writes block k % 2 after reading version k - 1."""
    return [[str(i % 2), str(i % 2), str(max(i - 1, 0)), str(max(i - 1, 0)), f"{max(i - 1, 0)}.0", f"{i + 1}.0"]
            for i in range(k)]  # fmt: skip


def _write_csv(path, rows, header=HEADER):
    path.write_text(header + "\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def _schedule():
    rows = np.array(_rows(), dtype=float)
    return schedule_from_trace(*(rows[:, j] for j in range(6)))


def _run(capsys, *args) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_error_line(code: int, out: str, err: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in out + err and "Warning" not in err
    return lines[0]


def _no_tmp(folder) -> None:
    assert not list(folder.rglob("*.tmp")), list(folder.rglob("*.tmp"))


# --- 1. integer columns of a CSV trace -----------------------------------------------------------


def test_trace_nan_writer_is_refused_without_warnings(tmp_path):
    rows = _rows()
    rows[2][0] = "nan"
    csv = _write_csv(tmp_path / "t.csv", rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from casting NaN to int
        with pytest.raises(ScheduleError) as info:
            load_trace_csv(csv)
    assert info.value.field == "writer"
    assert str(info.value) == "writer: row 3 is nan; must be a whole number"
    assert isinstance(info.value, ConfigError)


@pytest.mark.parametrize(
    ("column", "value"),
    [("writer", "1.5"), ("block", "1.25"), ("read_lo", "2.5"), ("read_hi", "inf"), ("writer", "1e300")],
)
def test_trace_fractional_or_infinite_ids_are_refused(tmp_path, column, value):
    rows = _rows()
    rows[6][HEADER.split(",").index(column)] = value
    csv = _write_csv(tmp_path / "t.csv", rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ScheduleError) as info:
            load_trace_csv(csv)
    assert info.value.field == column
    assert info.value.message.startswith(f"row 7 is {float(value)!r}; must be")


def test_trace_fractional_block_version_names_its_column(tmp_path):
    rows = [["0", "0", "0", "0", "0.0", "1.0", "0", "0"], ["1", "1", "0", "1", "0.0", "1.5", "0", "0.5"]]
    csv = _write_csv(tmp_path / "t.csv", rows, HEADER + ",v0,v1")
    with pytest.raises(ScheduleError) as info:
        load_trace_csv(csv)
    assert str(info.value) == "v1: row 2 is 0.5; must be a whole number"


def test_schedule_from_trace_refuses_non_whole_ids():
    rows = np.array(_rows(), dtype=float)
    writer = rows[:, 0].copy()
    writer[4] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ScheduleError) as info:
            schedule_from_trace(writer, *(rows[:, j] for j in range(1, 6)))
    assert str(info.value) == "writer: row 5 is nan; must be a whole number"
    with pytest.raises(ScheduleError, match=r"^read_lo: row 1 is 0\.5;"):
        schedule_from_trace([0], [0], [0.5])


def test_whole_number_floats_import_bit_identical_to_ints(tmp_path):
    as_ints = _write_csv(tmp_path / "i.csv", _rows())
    as_floats = _write_csv(tmp_path / "f.csv", [[f"{float(v)!r}" for v in r] for r in _rows()])
    a, b = load_trace_csv(as_ints), load_trace_csv(as_floats)
    assert a.same_events(b) and a.same_events(_schedule())


def test_trace_header_wider_than_rows_is_one_error(tmp_path):
    csv = _write_csv(tmp_path / "t.csv", _rows(), HEADER + ",v0")
    with pytest.raises(
        ScheduleError, match=r"^trace: .*t\.csv: the header names 7 columns but the rows have 6$"
    ):
        load_trace_csv(csv)


# --- 2. files given to load_schedule and to the CSV importer --------------------------------------


def test_load_zero_byte_npz(tmp_path):
    f = tmp_path / "zero.npz"
    f.write_bytes(b"")
    with pytest.raises(ScheduleError) as info:
        load_schedule(f)
    assert str(info.value) == f"file: {f} is empty (0 bytes), not an asyncconv schedule"


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_load_truncated_npz(tmp_path, keep):
    good = _schedule().save(tmp_path / "s.npz")
    data = good.read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ScheduleError) as info:
        load_schedule(bad)
    assert info.value.field == "file"
    assert info.value.message.startswith(f"{bad} is not an asyncconv schedule (truncated or damaged: ")


def test_load_npz_without_meta_and_text_file(tmp_path):
    empty = tmp_path / "empty.npz"
    np.savez(empty)
    with pytest.raises(ScheduleError, match=r"^file: .*empty\.npz is not an asyncconv schedule \(no 'meta'"):
        load_schedule(empty)
    text = tmp_path / "notes.npz"
    text.write_text("hello\n")
    with pytest.raises(
        ScheduleError, match=r"^file: .*notes\.npz is not an asyncconv schedule \(not a \.npz"
    ):
        load_schedule(text)


def test_load_directory(tmp_path):
    d = tmp_path / "adir.npz"
    d.mkdir()
    with pytest.raises(ScheduleError) as info:
        load_schedule(d)
    assert info.value.field == "file" and f"{d} is a directory" in info.value.message


def test_load_missing_file_still_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="schedule file not found"):
        load_schedule(tmp_path / "missing.npz")


def test_import_of_a_schedule_npz_says_use_it_directly(tmp_path):
    s = _schedule().save(tmp_path / "s.npz")
    with pytest.raises(ScheduleError) as info:
        load_trace_csv(s)
    assert info.value.field == "trace"
    assert f"{s} is already an asyncconv schedule" in info.value.message
    assert "'schedule import' reads CSV traces" in info.value.message and "directly" in info.value.message


def test_import_of_zero_byte_foreign_npz_and_directory(tmp_path):
    zero = tmp_path / "zero.npz"
    zero.write_bytes(b"")
    with pytest.raises(ScheduleError, match=r"^trace: .*zero\.npz is empty \(0 bytes\)"):
        load_trace_csv(zero)
    empty = tmp_path / "empty.npz"
    np.savez(empty)
    with pytest.raises(ScheduleError, match=r"^trace: .*empty\.npz is a \.npz archive, not a CSV trace"):
        load_trace_csv(empty)
    d = tmp_path / "traces"
    d.mkdir()
    with pytest.raises(ScheduleError, match=r"^trace: .*traces is a directory"):
        load_trace_csv(d)


# --- 3. Schedule.save ---------------------------------------------------------------------------


def test_save_to_a_directory_is_refused_and_leaves_no_tmp(tmp_path):
    d = tmp_path / "adir"
    d.mkdir()
    with pytest.raises(ScheduleError) as info:
        _schedule().save(d)
    assert str(info.value) == f"output: {d} is a directory; give a file name ending in .npz"
    _no_tmp(tmp_path)
    assert list(d.iterdir()) == []


def test_save_refuses_to_overwrite_a_foreign_file(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("important notes\n")
    with pytest.raises(ScheduleError) as info:
        _schedule().save(notes)
    assert str(info.value) == (
        f"output: {notes} exists and is not an asyncconv schedule; remove it or choose another name"
    )
    assert notes.read_text() == "important notes\n"
    _no_tmp(tmp_path)


def test_save_overwrites_a_schedule_or_an_empty_file(tmp_path):
    s = _schedule()
    f = s.save(tmp_path / "s.npz")
    short = s.truncate(100)
    short.save(f)  # re-drawing over an existing schedule is normal
    assert load_schedule(f).same_events(short)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    s.save(empty)
    assert load_schedule(empty).same_events(s)
    _no_tmp(tmp_path)


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failed_save_leaves_no_tmp_and_keeps_the_old_file(tmp_path, monkeypatch, error):
    s = _schedule()
    f = s.save(tmp_path / "s.npz")
    before = f.read_bytes()

    def fail(fh, **arrays):
        fh.write(b"PK\x03\x04 half a file")
        raise error

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(type(error)):
        s.truncate(10).save(f)
    assert f.read_bytes() == before
    _no_tmp(tmp_path)


# --- CLI: one line, exit status 2 ----------------------------------------------------------------


def test_cli_import_fractional_writer(tmp_path, capsys):
    rows = _rows()
    rows[2][0] = "1.5"
    csv = _write_csv(tmp_path / "t.csv", rows)
    code, out, err = _run(capsys, "schedule", "import", csv, "-o", tmp_path / "t.npz")
    assert _one_error_line(code, out, err) == "error: writer: row 3 is 1.5; must be a whole number"
    assert not (tmp_path / "t.npz").exists()


def test_cli_import_of_a_schedule(tmp_path, capsys):
    s = _schedule().save(tmp_path / "s.npz")
    code, out, err = _run(capsys, "schedule", "import", s, "-o", tmp_path / "t.npz")
    line = _one_error_line(code, out, err)
    assert line.startswith(f"error: trace: {s} is already an asyncconv schedule")


def test_cli_stats_zero_byte(tmp_path, capsys):
    f = tmp_path / "zero.npz"
    f.write_bytes(b"")
    code, out, err = _run(capsys, "schedule", "stats", f)
    assert (
        _one_error_line(code, out, err) == f"error: file: {f} is empty (0 bytes), not an asyncconv schedule"
    )


def test_cli_plot_truncated(tmp_path, capsys):
    data = _schedule().save(tmp_path / "s.npz").read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(data[: len(data) // 2])
    code, out, err = _run(capsys, "schedule", "plot", bad, "-o", tmp_path / "fig.png")
    line = _one_error_line(code, out, err)
    assert line.startswith(f"error: file: {bad} is not an asyncconv schedule (truncated or damaged: ")
    assert not (tmp_path / "fig.png").exists()


def test_cli_draw_into_a_directory(tmp_path, capsys):
    d = tmp_path / "adir"
    d.mkdir()
    code, out, err = _run(capsys, "schedule", "draw", "--workers", 2, "--blocks", 2, "-n", K, "-o", d, "-q")
    assert (
        _one_error_line(code, out, err)
        == f"error: output: {d} is a directory; give a file name ending in .npz"
    )
    _no_tmp(tmp_path)


def test_cli_draw_over_a_text_file(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("important notes\n")
    code, out, err = _run(
        capsys, "schedule", "draw", "--workers", 2, "--blocks", 2, "-n", K, "-o", notes, "-q"
    )
    line = _one_error_line(code, out, err)
    assert (
        line
        == f"error: output: {notes} exists and is not an asyncconv schedule; remove it or choose another name"
    )
    assert notes.read_text() == "important notes\n"
    code, _, err = _run(
        capsys, "schedule", "draw", "--workers", 2, "--blocks", 2, "-n", K, "-o", tmp_path / "s.npz", "-q"
    )
    assert code == 0, err
    code, _, err = _run(
        capsys,
        "schedule",
        "draw",
        "--workers",
        2,
        "--blocks",
        2,
        "-n",
        K,
        "--seed",
        2,
        "-o",
        tmp_path / "s.npz",
        "-q",
    )
    assert code == 0, err  # over an existing schedule: allowed
    _no_tmp(tmp_path)
