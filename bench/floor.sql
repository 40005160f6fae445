-- The floor of the benchmark: the least work that turns the same ERP files into the same
-- fct_ar_invoices (open balance as of a date, reporting-currency amounts, aging bucket), written by
-- hand in one DuckDB script with no validation, lineage, tests or orchestration.
-- {{company}} and {{as_of}} are filled in by bench/run.py.

create table invoices as
select DocNo as invoice_id, CustNo as customer_id, DocType as document_type, Curr as currency,
       cast(DocDate as date) as invoice_date,
       coalesce(cast(DueDate as date), cast(DocDate as date) + 30) as due_date,  -- missing_due_date_terms_days
       cast(Amount as decimal(18,2)) as amount
from read_csv('{{company}}/erp/invoices/invoices_*.csv', header = true, all_varchar = true);

create table applications as
select PmtNo as payment_id, DocNo as document_id, cast(AmtApplied as decimal(18,2)) as applied_amount,
       cast(ApplyDate as date) as applied_date
from read_csv('{{company}}/erp/payment_applications/payment_applications_*.csv', header = true, all_varchar = true);

create table write_offs as
select DocNo as document_id, cast(WOAmount as decimal(18,2)) as amount, cast(WODate as date) as write_off_date
from read_csv('{{company}}/erp/write_offs.csv', header = true, all_varchar = true);

create table fx as
select cast(RateDate as date) as rate_date, Curr as currency, cast(RateToUSD as decimal(18,8)) as rate
from read_csv('{{company}}/erp/fx_rates.csv', header = true, all_varchar = true);

create table fct_ar_invoices as
with reductions as (
    select document_id, sum(applied_amount) as reduced from applications
    where applied_date <= date '{{as_of}}' group by all
    union all
    select document_id, sum(amount) from write_offs where write_off_date <= date '{{as_of}}' group by all
),
reduced as (select document_id, sum(reduced) as reduced from reductions group by all),
open_items as (
    select i.*, i.amount - coalesce(r.reduced, 0) as open_amount
    from invoices i left join reduced r on r.document_id = i.invoice_id
    where i.document_type in ('invoice', 'debit_memo') and i.invoice_date <= date '{{as_of}}'
),
as_of_rates as (
    select currency, arg_max(rate, rate_date) as rate from fx where rate_date <= date '{{as_of}}' group by all
)
select o.invoice_id, o.customer_id, o.currency, o.invoice_date, o.due_date, o.amount, o.open_amount,
       cast(o.amount * f.rate as decimal(18,2)) as amount_reporting,
       cast(o.open_amount * a.rate as decimal(18,2)) as open_amount_reporting,
       greatest(date_diff('day', o.due_date, date '{{as_of}}'), 0) as days_past_due,
       case when o.open_amount <= 0 then 'closed'
            when date '{{as_of}}' <= o.due_date then 'current'
            when date_diff('day', o.due_date, date '{{as_of}}') <= 30 then '1-30'
            when date_diff('day', o.due_date, date '{{as_of}}') <= 60 then '31-60'
            when date_diff('day', o.due_date, date '{{as_of}}') <= 90 then '61-90'
            when date_diff('day', o.due_date, date '{{as_of}}') <= 120 then '91-120'
            else 'over_120' end as aging_bucket,
       date '{{as_of}}' as as_of_date
from open_items o
asof left join fx f on f.currency = o.currency and f.rate_date <= o.invoice_date
left join as_of_rates a on a.currency = o.currency;
