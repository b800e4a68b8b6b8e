-- vigil_report(p_since, p_until) -> jsonb: the raw aggregates behind lib/archive/report.py.
--
-- Sums and counts only; lib/archive/report.py turns them into means and rates, the
-- same code that aggregates incidents from Redis when Supabase is not set up,
-- so both sources give the same numbers for the same incidents.
-- Window: incidents opened in [p_since, p_until), escalated events at in it,
-- check rollups whose hour starts in it. p_until null means "up to now".

-- What a false-positive rate is counted per: the Alertmanager alertname when
-- there is one (their keys are label hashes), every Sentry issue together, else
-- the key itself (check:api, rule:HighErrorRate, vercel:deploy:prj:production).
-- lib/archive/report.py rule_of() is the same function in Python.
create or replace function public.vigil_rule_of(p_key text, p_labels jsonb)
returns text
language sql
immutable
set search_path = public, pg_temp
as $$
  select case
    when coalesce(p_labels->>'alertname', '') <> '' then 'alertname:' || (p_labels->>'alertname')
    when p_key like 'sentry:issue:%' then 'sentry:issue'
    else p_key
  end
$$;

create or replace function public.vigil_report(p_since timestamptz, p_until timestamptz default null)
returns jsonb
language sql
stable
security invoker
set search_path = public, pg_temp
as $$
  with inc as (
    select * from vigil_incidents
    where opened_at >= p_since and (p_until is null or opened_at < p_until)
  ),
  sev as (
    select severity,
           jsonb_build_object(
             'incidents', count(*),
             'acked', count(acked_at),
             'ack_s', coalesce(sum(extract(epoch from acked_at - opened_at)), 0),
             'resolved', count(resolved_at),
             'resolve_s', coalesce(sum(extract(epoch from resolved_at - opened_at)), 0),
             'false_positives', count(false_positive)
           ) as agg
    from inc where severity is not null group by severity
  ),
  src as (
    select source, jsonb_object_agg(severity, n) as agg
    from (select source, severity, count(*) as n from inc where severity is not null group by 1, 2) s
    group by source
  ),
  esc as (
    select e.incident_id, i.severity, (e.data->>'step')::int as step,
           coalesce(e.data->'notify', '[]'::jsonb) as notify, e.at, e.seq
    from vigil_incident_events e left join vigil_incidents i on i.id = e.incident_id
    where e.type = 'escalated' and e.at >= p_since and (p_until is null or e.at < p_until)
  ),
  rules as (
    select vigil_rule_of(key, labels) as rule,
           jsonb_build_object('incidents', count(*), 'false_positives', count(false_positive)) as agg
    from inc group by 1
  ),
  keys as (
    select key, count(*) as n, count(false_positive) as fp
    from inc group by key order by count(*) desc, key asc limit 10
  ),
  checks as (
    select check_name,
           jsonb_build_object(
             'up_minutes', sum(up_minutes),
             'total_minutes', sum(total_minutes),
             'p50_weighted', coalesce(sum(p50 * total_minutes) filter (where p50 is not null), 0),
             'p50_minutes', coalesce(sum(total_minutes) filter (where p50 is not null), 0),
             'p95_max', max(p95),
             'p99_max', max(p99),
             'hours', count(*)
           ) as agg
    from vigil_check_rollups
    where hour >= p_since and (p_until is null or hour < p_until)
    group by check_name
  )
  select jsonb_build_object(
    'by_severity', coalesce((select jsonb_object_agg(severity, agg) from sev), '{}'::jsonb),
    'by_source', coalesce((select jsonb_object_agg(source, agg) from src), '{}'::jsonb),
    'escalations', coalesce((
      select jsonb_agg(jsonb_build_object('incident', incident_id, 'severity', severity, 'step', step,
                                          'notify', notify) order by at, seq)
      from esc), '[]'::jsonb),
    'rules', coalesce((select jsonb_object_agg(rule, agg) from rules), '{}'::jsonb),
    'keys', coalesce((
      select jsonb_agg(jsonb_build_object('key', key, 'incidents', n, 'false_positives', fp)
                       order by n desc, key asc)
      from keys), '[]'::jsonb),
    'checks', coalesce((select jsonb_object_agg(check_name, agg) from checks), '{}'::jsonb)
  )
$$;

revoke all on function public.vigil_rule_of(text, jsonb) from public, anon, authenticated;
revoke all on function public.vigil_report(timestamptz, timestamptz) from public, anon, authenticated;
grant execute on function public.vigil_rule_of(text, jsonb) to service_role;
grant execute on function public.vigil_report(timestamptz, timestamptz) to service_role;
