-- One row per refund (latest version of each refund id).
with

source as (
    -- A shop without refunds yet has no raw refunds table.
    {{ latest_version(source_or_empty('billing', 'refunds', {
        'id': 'String', 'payment_id': 'String', 'created_at': "DateTime64(3, 'UTC')",
        'status': 'LowCardinality(String)', 'amount_value': 'Nullable(Decimal(18, 2))',
        'amount_currency': 'LowCardinality(Nullable(String))', 'description': 'Nullable(String)', '_loaded_at': "DateTime64(3, 'UTC')", '_row_hash': 'UInt64'
    }), ['id']) }}
),

renamed as (
    select
        id as refund_id,
        payment_id,
        {{ to_utc_ms('created_at') }} as created_at,
        toDate(created_at) as created_date,
        status,
        cast(status = 'succeeded' as Bool) as is_succeeded,
        toDecimal64(coalesce(amount_value, 0), 2) as amount,
        coalesce(amount_currency, 'RUB') as currency,
        description,
        _loaded_at
    from source
),

final as (
    select * from renamed
)

select * from final
