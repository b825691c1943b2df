"""Streaming parsers for batch bodies: bytes in, one record at a time out, never the whole body in memory.

Records are split on raw bytes before decoding. That is safe for the accepted charsets: in UTF-8 and in
Shift_JIS (cp932) the bytes `"` (0x22), `,` (0x2C) and LF (0x0A) never occur inside a multi-byte character.
CSV records may contain line breaks inside quoted fields (within limits: see CsvSplitter); NDJSON records are
single lines by definition.
"""

from __future__ import annotations

import codecs
import collections
import csv
import json
from dataclasses import dataclass
from typing import Protocol

CSV = "text/csv"
NDJSON = "application/x-ndjson"
MEDIA_TYPES = {CSV: CSV, NDJSON: NDJSON, "application/ndjson": NDJSON, "application/jsonl": NDJSON,
               "application/x-jsonlines": NDJSON}
CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932",
            "cp932": "cp932", "windows-31j": "cp932"}


class Splitter(Protocol):
    """Incremental splitter of a byte stream into records."""

    def feed(self, data: bytes) -> list[bytes]:
        """Complete records found so far (without their line terminator)."""

    def finish(self) -> list[bytes]:
        """The last record, if the body did not end with a line break."""


class LineSplitter:
    """NDJSON: one record per line."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> list[bytes]:
        """Complete lines."""
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        return lines

    def finish(self) -> list[bytes]:
        """The unterminated last line."""
        rest, self._rest = self._rest, b""
        return [rest] if rest else []


class CsvSplitter:
    """CSV (RFC 4180) records, one physical line each unless a quoted field holds line breaks.

    The rule for quotes (README, "Insurer guide"): a `"` opens a quoted field only at the start of a field; a
    quoted field may hold commas, `""` and line breaks, and ends at a `"` that is not doubled. A `"` anywhere
    else is an ordinary character (the row's field check then refuses it). A record that spans lines must close
    its quotes within `MAX_RECORD_LINES` lines and `MAX_RECORD_BYTES`, and have the header's number of fields;
    otherwise its quote was a stray one: only its first line is a record (rejected as invalid CSV) and reading
    starts again on the next line. So one stray `"` costs one row, never the rest of the file.
    """

    MAX_RECORD_LINES = 16
    MAX_RECORD_BYTES = 64 * 1024

    def __init__(self) -> None:
        self._partial = b""  # an incomplete physical line
        self._open: list[bytes] = []  # the lines of a record whose quoted field is still open
        self._open_commas = 0
        self._open_bytes = 0
        self._fields: int | None = None  # the header's number of fields

    def feed(self, data: bytes) -> list[bytes]:
        """Complete records."""
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if not self._open and self._fields is not None and b'"' not in data:
            return lines  # the common case: no quotes, one record per line
        return self._records(lines)

    def finish(self) -> list[bytes]:
        """The last record (the body need not end with a line break); a quote still open was a stray one."""
        rest, self._partial = self._partial, b""
        records = self._records([rest] if rest.strip() else [])
        while self._open:
            records += self._records(self._break_open(records))
        return records

    def _records(self, lines: list[bytes]) -> list[bytes]:
        records: list[bytes] = []
        pending = collections.deque(lines)
        while pending:
            line = pending.popleft()
            if not self._open:
                in_quotes, commas = _scan_csv_line(line, in_quotes=False)
                if self._fields is None and line.strip():
                    self._fields = commas + 1
                if not in_quotes:
                    records.append(line)
                    continue
                self._open, self._open_commas, self._open_bytes = [line], commas, len(line)
                continue
            in_quotes, commas = _scan_csv_line(line, in_quotes=True)
            self._open.append(line)
            self._open_commas += commas
            self._open_bytes += len(line)
            if in_quotes:
                if len(self._open) >= self.MAX_RECORD_LINES or self._open_bytes > self.MAX_RECORD_BYTES:
                    pending.extendleft(reversed(self._break_open(records)))
                continue
            if self._open_commas + 1 == self._fields:
                records.append(b"\n".join(self._open))
                self._open = []
            else:
                pending.extendleft(reversed(self._break_open(records)))
        return records

    def _break_open(self, records: list[bytes]) -> list[bytes]:
        """The open record's first line alone becomes a (broken) record; returns the lines to read again."""
        first, *rest = self._open
        self._open = []
        records.append(first)
        return rest


def _scan_csv_line(line: bytes, *, in_quotes: bool) -> tuple[bool, int]:
    """Whether a quoted field is still open at the end of the line, and the commas outside quotes in it."""
    commas, pos, end = 0, 0, len(line)
    field_start = not in_quotes
    while pos < end:
        if in_quotes:
            quote = line.find(b'"', pos)
            if quote < 0:
                return True, commas
            if line[quote + 1:quote + 2] == b'"':  # "" is a quote inside the field
                pos = quote + 2
                continue
            in_quotes, field_start, pos = False, False, quote + 1
            continue
        if field_start and line[pos:pos + 1] == b'"':
            in_quotes, field_start, pos = True, False, pos + 1
            continue
        comma = line.find(b",", pos)
        if comma < 0:
            return False, commas
        commas, field_start, pos = commas + 1, True, comma + 1
    return in_quotes, commas


def splitter_for(media_type: str) -> Splitter:
    """The splitter for a canonical media type."""
    return CsvSplitter() if media_type == CSV else LineSplitter()


def is_blank(record: bytes) -> bool:
    """Empty lines are not rows."""
    return not record.strip()


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """One data row: its 1-based number and either its values or why it could not be read."""

    row: int
    values: dict[str, object] | None
    problem: tuple[str, str] | None = None  # (error code, detail)


class RowReader:
    """Turns records into rows: decodes, reads the CSV header, parses CSV fields or JSON objects."""

    def __init__(self, *, media_type: str, charset: str) -> None:
        self.media_type = media_type
        self.codec = codecs.lookup(charset).name
        self.header: list[str] | None = None if media_type == CSV else []
        self._first = True
        self._row = 0

    def read(self, record: bytes) -> ParsedRow | None:
        """The row of a record; None for blank lines and the CSV header (which it keeps)."""
        if is_blank(record):
            return None
        text = self._decode(record)
        if text is None:
            self._row += 1
            return ParsedRow(self._row, None, ("invalid_encoding", f"the row is not valid {self.codec}"))
        if self.header is None:
            self.header = [name.strip() for name in next(csv.reader([text]))]
            return None
        self._row += 1
        return self._parse(text)

    def _decode(self, record: bytes) -> str | None:
        if self._first and record.startswith(codecs.BOM_UTF8) and self.codec == "utf-8":
            record = record[len(codecs.BOM_UTF8):]
        self._first = False
        try:
            return record.decode(self.codec).rstrip("\r")
        except UnicodeDecodeError:
            return None

    def _parse(self, text: str) -> ParsedRow:
        return self._parse_csv(text) if self.media_type == CSV else self._parse_json(text)

    def _parse_csv(self, text: str) -> ParsedRow:
        assert self.header is not None
        try:
            fields = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            detail = f'the row is not valid CSV ({exc}): a field that starts with " ends with " (write "" inside it)'
            return ParsedRow(self._row, None, ("invalid_csv", detail))
        if len(fields) != len(self.header):
            detail = f"the row has {len(fields)} fields, the header has {len(self.header)}"
            return ParsedRow(self._row, None, ("wrong_field_count", detail))
        return ParsedRow(self._row, dict(zip(self.header, fields, strict=True)))

    def _parse_json(self, text: str) -> ParsedRow:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return ParsedRow(self._row, None, ("invalid_json", f"the line is not valid JSON: {exc.msg}"))
        except RecursionError:
            return ParsedRow(self._row, None, ("invalid_json", "the line nests arrays or objects too deeply"))
        if not isinstance(value, dict):
            return ParsedRow(self._row, None, ("invalid_json", "each line must be a JSON object"))
        return ParsedRow(self._row, value)

