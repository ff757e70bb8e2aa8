"""`multipart/form-data` requests: the query and parameters as form fields, external tables as files.

clickhouse-connect switches to this encoding by itself when bind parameters are too long for a
URL, and uses it for "external data" (temporary tables sent with the query).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP

from .errors import ClickHouseError

MAX_FORM_BYTES = 256 << 20


@dataclass
class FormFile:
    name: str
    data: bytes


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[FormFile] = field(default_factory=list)


def parse_form(content_type: str, body: Iterable[bytes]) -> Form:
    """Parse a whole multipart body (bounded to MAX_FORM_BYTES)."""
    buf = bytearray(f"Content-Type: {content_type}\r\n\r\n".encode())
    for chunk in body:
        buf.extend(chunk)
        if len(buf) > MAX_FORM_BYTES:
            raise ClickHouseError.named(
                "QUERY_IS_TOO_LARGE", "multipart/form-data request is larger than 256 MiB"
            )
    message: Message = BytesParser(policy=HTTP).parsebytes(bytes(buf))
    if not message.is_multipart():
        raise ClickHouseError.named("BAD_ARGUMENTS", "Malformed multipart/form-data body")
    form = Form()
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            form.files.append(FormFile(str(name), payload))
        else:
            form.fields[str(name)] = payload.decode("utf-8", errors="replace")
    return form


@dataclass(frozen=True)
class ExternalTable:
    """A temporary table sent with the query: its columns, format and data file."""

    name: str
    columns: str  # "a UInt32, s String"
    format: str
    data: bytes


def external_tables(files: list[FormFile], params: dict[str, str]) -> list[ExternalTable]:
    tables = []
    for f in files:
        structure = params.get(f"{f.name}_structure")
        types = params.get(f"{f.name}_types")
        if structure is None and types is not None:
            structure = ", ".join(f"_{i + 1} {t.strip()}" for i, t in enumerate(types.split(",")))
        if not structure:
            raise ClickHouseError.named(
                "BAD_ARGUMENTS",
                f"Neither structure nor types have not been provided for external table {f.name}",
            )
        tables.append(
            ExternalTable(f.name, structure, params.get(f"{f.name}_format", "TabSeparated"), f.data)
        )
    return tables
