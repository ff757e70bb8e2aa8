"""The request router's lexer: statement kinds, FORMAT clauses, where INSERT data starts."""

import pytest

from runner.embedded.sql import NeedMoreText, SqlSyntaxError, analyse, first_keyword, split_insert


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("select 1", "SELECT"),
        ("  -- note\n/* block /* nested */ */ (SELECT 1)", "SELECT"),
        ("# comment\nWITH x AS (SELECT 1) SELECT * FROM x", "WITH"),
        ("insert into t values (1)", "INSERT"),
        ("", ""),
    ],
)
def test_first_keyword(sql, kind):
    assert first_keyword(sql) == kind


@pytest.mark.parametrize(
    ("sql", "fmt"),
    [
        ("SELECT 1 FORMAT JSON", "JSON"),
        ("SELECT 1 FORMAT JSONEachRow;", "JSONEachRow"),
        ("SELECT 1 format CSVWithNames SETTINGS max_threads = 1", "CSVWithNames"),
        ("SELECT format FROM t", None),  # a column named format
        ("SELECT 'FORMAT JSON' AS x", None),  # inside a string
        ("SELECT format('{}', 1) AS x", None),  # the function
        ("SELECT * FROM (SELECT 1 FORMAT JSON) ", None),  # not at top level
        ("SELECT 1 -- FORMAT JSON", None),
        ("SELECT 1 FORMAT `Parquet`", "Parquet"),
    ],
)
def test_format_clause(sql, fmt):
    assert analyse(sql).format_name == fmt


def test_outfile_and_infile_are_detected():
    assert analyse("SELECT 1 INTO OUTFILE '/tmp/x'").has_outfile
    assert analyse("INSERT INTO t FROM INFILE '/etc/passwd' FORMAT CSV").has_infile
    assert not analyse("SELECT 'INTO OUTFILE'").has_outfile


def test_split_insert_with_format_takes_data_after_one_newline():
    sql = "INSERT INTO db.t (a, b) FORMAT CSV\n1,2\n3,4\n"
    split = split_insert(sql, complete=True)
    assert split.head == "INSERT INTO db.t (a, b)"
    assert split.format_name == "CSV"
    assert sql[split.data_offset :] == "1,2\n3,4\n"


def test_split_insert_keeps_settings_clause_apart():
    sql = "INSERT INTO t SETTINGS async_insert = 0 FORMAT TSV\n1\n"
    split = split_insert(sql, complete=True)
    assert split.head == "INSERT INTO t"
    assert split.settings == "SETTINGS async_insert = 0"
    assert sql[split.data_offset :] == "1\n"


def test_split_insert_values_and_select():
    sql = "INSERT INTO t VALUES (1, 'a'), (2, 'b')"
    split = split_insert(sql, complete=True)
    assert split.format_name == "Values"
    assert sql[split.data_offset :].strip() == "(1, 'a'), (2, 'b')"
    assert split_insert("INSERT INTO t SELECT * FROM s", complete=True) is None
    assert split_insert("INSERT INTO t (a) WITH 1 AS x SELECT x", complete=True) is None


def test_split_insert_names_that_look_like_keywords():
    sql = "INSERT INTO format FORMAT CSV\n1\n"
    split = split_insert(sql, complete=True)
    assert split.head == "INSERT INTO format" and split.format_name == "CSV"
    sql = "INSERT INTO db.values (`format`) VALUES (1)"
    assert split_insert(sql, complete=True).head == "INSERT INTO db.values (`format`)"


def test_split_insert_asks_for_more_text():
    with pytest.raises(NeedMoreText):
        split_insert("INSERT INTO t FORM", complete=False)
    with pytest.raises(NeedMoreText):
        split_insert("INSERT INTO t FORMAT CSV", complete=False)  # the name may go on


def test_split_insert_binary_data_is_not_lexed():
    head = "INSERT INTO t FORMAT RowBinary\n"
    data = b"\x00'\"`/*--".decode("latin-1")
    split = split_insert(head + data, complete=True)
    assert (head + data)[split.data_offset :] == data


def test_unterminated_literal_is_an_error():
    with pytest.raises(SqlSyntaxError):
        analyse("SELECT 'abc")


def test_split_insert_select_from_input():
    sql = "INSERT INTO t (a, h) SELECT a, cityHash64(a) FROM input('a UInt32') WHERE a > 1 FORMAT CSV\n1\n2\n"
    split = split_insert(sql, complete=True)
    assert split.select and split.format_name == "CSV"
    assert split.head == "INSERT INTO t (a, h) SELECT a, cityHash64(a) FROM input('a UInt32') WHERE a > 1"
    assert sql[split.data_offset :] == "1\n2\n"
    assert split_insert("INSERT INTO t SELECT * FROM values('a UInt8', 1)", complete=True) is None
    with pytest.raises(NeedMoreText):
        split_insert("INSERT INTO t SELECT * FROM input('a UInt8') FOR", complete=False)


def test_replace_input():
    from runner.embedded.sql import replace_input

    sql = "INSERT INTO t SELECT x FROM input('x UInt8') AS i WHERE x IN (SELECT 1)"
    assert replace_input(sql, "/s/f", "CSV", None) == (
        "INSERT INTO t SELECT x FROM file('/s/f', 'CSV', 'x UInt8') AS i WHERE x IN (SELECT 1)"
    )
    assert "file('/s/f', 'Parquet', 'auto', 'lz4')" in replace_input(
        "SELECT * FROM input()", "/s/f", "Parquet", "lz4"
    )
