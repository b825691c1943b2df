"""Streaming parsers for batch bodies: bytes in, one record at a time out, never the whole body in memory.

Records are split on raw bytes before decoding. That is safe for the accepted charsets: in UTF-8 and in
Shift_JIS (cp932) the bytes `"` (0x22) and LF (0x0A) never occur inside a multi-byte character.
CSV records may contain line breaks inside quoted fields; NDJSON records are single lines by definition.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
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
    """CSV (RFC 4180): a line break ends a record only outside double quotes."""

    def __init__(self) -> None:
        self._rest = b""
        self._in_quotes = False

    def feed(self, data: bytes) -> list[bytes]:
        """Complete records."""
        if not self._in_quotes and b'"' not in data:
            lines = data.split(b"\n")
            lines[0] = self._rest + lines[0]
            self._rest = lines.pop()
            return lines
        return self._feed_quoted(data)

    def _feed_quoted(self, data: bytes) -> list[bytes]:
        records: list[bytes] = []
        start = pos = 0
        while True:
            quote = data.find(b'"', pos)
            if self._in_quotes:
                if quote < 0:
                    break
                self._in_quotes, pos = False, quote + 1
                continue
            newline = data.find(b"\n", pos)
            if newline >= 0 and (quote < 0 or newline < quote):
                records.append(self._rest + data[start:newline])
                self._rest, start = b"", newline + 1
                pos = start
            elif quote >= 0:
                self._in_quotes, pos = True, quote + 1
            else:
                break
        self._rest += data[start:]
        return records

    def finish(self) -> list[bytes]:
        """The unterminated last record."""
        rest, self._rest = self._rest, b""
        return [rest] if rest.strip() else []


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
            return ParsedRow(self._row, None, ("invalid_csv", f"the row is not valid CSV: {exc}"))
        if len(fields) != len(self.header):
            detail = f"the row has {len(fields)} fields, the header has {len(self.header)}"
            return ParsedRow(self._row, None, ("wrong_field_count", detail))
        return ParsedRow(self._row, dict(zip(self.header, fields, strict=True)))

    def _parse_json(self, text: str) -> ParsedRow:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return ParsedRow(self._row, None, ("invalid_json", f"the line is not valid JSON: {exc.msg}"))
        if not isinstance(value, dict):
            return ParsedRow(self._row, None, ("invalid_json", "each line must be a JSON object"))
        return ParsedRow(self._row, value)


def iter_rows(reader: RowReader, records: list[bytes]) -> Iterator[ParsedRow]:
    """The rows among some records."""
    for record in records:
        if (row := reader.read(record)) is not None:
            yield row
