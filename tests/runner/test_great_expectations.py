"""Great Expectations validates warehouse tables through the `clickhousedb://` SQLAlchemy URL."""

from __future__ import annotations

import pytest


@pytest.fixture
def payments(ch, scratch_db):
    table = "payments"
    ch.command(
        f"CREATE TABLE {scratch_db}.{table} (payment_id String, status LowCardinality(String), amount Decimal(10, 2)) "
        "ENGINE = MergeTree ORDER BY payment_id"
    )
    rows = [(f"p{i}", "succeeded" if i % 4 else "canceled", 399) for i in range(40)]
    rows.append(("p40", "refunded", 0))
    ch.insert(f"{scratch_db}.{table}", rows, column_names=["payment_id", "status", "amount"])
    return scratch_db, table


def test_great_expectations_validates_a_table(warehouse, payments):
    import great_expectations as gx

    database, table = payments
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_sql(
        name="warehouse",
        connection_string=f"clickhousedb://default@{warehouse.host}:{warehouse.port}/{database}",
    )
    batch = (
        source.add_table_asset(name=table, table_name=table)
        .add_batch_definition_whole_table("all")
        .get_batch()
    )

    suite = context.suites.add(gx.ExpectationSuite(name="payments"))
    suite.add_expectation(gx.expectations.ExpectTableRowCountToEqual(value=41))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeUnique(column="payment_id"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="amount"))
    suite.add_expectation(
        gx.expectations.ExpectColumnValuesToBeBetween(column="amount", min_value=0, max_value=5000)
    )
    assert batch.validate(suite).success

    strict = context.suites.add(gx.ExpectationSuite(name="strict"))
    strict.add_expectation(
        gx.expectations.ExpectColumnValuesToBeInSet(column="status", value_set=["succeeded", "canceled"])
    )
    result = batch.validate(strict)
    assert not result.success
    assert result.results[0].result["unexpected_count"] == 1
