"""Append-only JSON-lines logs: a torn last line is repaired before the next append, never glued to it."""

import pytest

from spatial_forcing.utils.jsonl import append_jsonl, read_jsonl, repair_tail


def test_torn_tail_is_cut_before_appending(tmp_path):
    path = tmp_path / "log.jsonl"
    append_jsonl(path, {"i": 0})
    with open(path, "a") as fh:
        fh.write('{"i": 1, "succ')  # a write cut by a kill
    append_jsonl(path, {"i": 2})
    assert path.read_text().splitlines() == ['{"i": 0}', '{"i": 2}']
    assert list(read_jsonl(path)) == [{"i": 0}, {"i": 2}]


def test_complete_last_record_without_newline_is_kept(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"i": 0}\n{"i": 1}')  # e.g. written by another tool
    append_jsonl(path, {"i": 2})
    assert [r["i"] for r in read_jsonl(path)] == [0, 1, 2]


def test_repair_of_a_single_torn_line_longer_than_a_read_block(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"x": "' + "a" * 200_000)  # no newline anywhere: the whole file is the fragment
    repair_tail(path)
    assert path.read_text() == ""
    repair_tail(tmp_path / "missing.jsonl")  # nothing to repair
    assert not (tmp_path / "missing.jsonl").exists()


def test_nan_is_refused_and_nothing_is_written(tmp_path):
    path = tmp_path / "log.jsonl"
    with pytest.raises(ValueError):
        append_jsonl(path, {"loss": float("nan")})
    assert not path.exists()


def test_reader_skips_unreadable_lines(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"i": 0}{"i": 1}\n\n{"i": 2}\n')  # a record glued by an old writer, a blank line
    assert list(read_jsonl(path)) == [{"i": 2}]
