-- vigil_record(events jsonb) -> integer: the one write path of the archive.
--
-- `events` is a JSON array of Vigil archive events, oldest first:
--   {"id": "1042:opened", "type": "opened", "at": 1764288000.0, "incident": "1042", "data": {...}}
-- Each event is applied once, by its id: a retried batch (after a timeout, or
-- two overlapping drains) inserts nothing twice and changes no counter twice.
-- Returns the number of events that were new. A malformed event goes to
-- vigil_rejected_events instead of failing the batch (it would block the
-- outbox forever).

create or replace function public.vigil_apply_event(
  p_incident text, p_type text, p_at timestamptz, d jsonb
) returns void
language plpgsql
security invoker
set search_path = public, pg_temp
as $$
begin
  if p_type = 'opened' then
    insert into vigil_incidents as i (
      id, key, severity, status, title, summary, source, labels, links, opened_at, updated_at
    ) values (
      p_incident,
      coalesce(d->>'key', ''),
      nullif(d->>'severity', ''),
      'triggered',
      coalesce(d->>'title', ''),
      coalesce(d->>'summary', ''),
      coalesce(d->>'source', ''),
      case when jsonb_typeof(d->'labels') = 'object' then d->'labels' else '{}'::jsonb end,
      case when jsonb_typeof(d->'links') = 'object' then d->'links' else '{}'::jsonb end,
      case when jsonb_typeof(d->'opened_at') = 'number' and (d->>'opened_at')::numeric between 0 and 1e11
           then to_timestamp((d->>'opened_at')::double precision) else p_at end,
      p_at
    )
    on conflict (id) do update set
      key = excluded.key, severity = coalesce(i.severity, excluded.severity),
      title = excluded.title, summary = excluded.summary, source = excluded.source,
      labels = excluded.labels, links = excluded.links, opened_at = excluded.opened_at,
      updated_at = greatest(i.updated_at, excluded.updated_at);
    return;
  end if;

  -- Every other event updates the row its "opened" event created; if that one
  -- never arrived, keep what is known on a row without opened_at.
  for attempt in 1..2 loop
    update vigil_incidents i set
      severity = case when p_type = 'upgraded' then coalesce(nullif(d->>'severity', ''), i.severity) else i.severity end,
      status = case
        when p_type = 'resolved' then 'resolved'
        when p_type = 'acknowledged' and i.status <> 'resolved' then 'acknowledged'
        else i.status end,
      acked_at = case when p_type = 'acknowledged' then coalesce(i.acked_at, p_at) else i.acked_at end,
      acked_by = case when p_type = 'acknowledged' then coalesce(i.acked_by, d->>'by') else i.acked_by end,
      acked_via = case when p_type = 'acknowledged' then coalesce(i.acked_via, d->>'via') else i.acked_via end,
      resolved_at = case when p_type = 'resolved' then coalesce(i.resolved_at, p_at) else i.resolved_at end,
      resolved_by = case when p_type = 'resolved' then coalesce(i.resolved_by, d->>'by') else i.resolved_by end,
      resolved_via = case when p_type = 'resolved' then coalesce(i.resolved_via, d->>'via') else i.resolved_via end,
      false_positive = case when p_type = 'false_positive'
        then coalesce(nullif(d->>'reason', ''), 'false positive') else i.false_positive end,
      false_positive_by = case when p_type = 'false_positive' then d->>'by' else i.false_positive_by end,
      false_positive_at = case when p_type = 'false_positive' then p_at else i.false_positive_at end,
      postmortem_url = case when p_type = 'postmortem' then d->>'url' else i.postmortem_url end,
      postmortem_by = case when p_type = 'postmortem' then d->>'by' else i.postmortem_by end,
      postmortem_at = case when p_type = 'postmortem' then p_at else i.postmortem_at end,
      escalations = i.escalations + (p_type = 'escalated')::int,
      escalated_at = case when p_type = 'escalated' then coalesce(i.escalated_at, p_at) else i.escalated_at end,
      notifications = i.notifications + (p_type = 'notified')::int,
      notifications_failed = i.notifications_failed
        + (p_type = 'notified' and coalesce(d->>'ok', 'false') <> 'true')::int,
      reminders = i.reminders + (p_type = 'reminded')::int,
      updated_at = greatest(i.updated_at, p_at)
    where i.id = p_incident;
    exit when found;
    insert into vigil_incidents (id, updated_at) values (p_incident, p_at) on conflict (id) do nothing;
  end loop;
end
$$;

create or replace function public.vigil_record(events jsonb)
returns integer
language plpgsql
security invoker
set search_path = public, pg_temp
as $$
declare
  ev jsonb;
  d jsonb;
  eid text;
  etype text;
  inc text;
  at timestamptz;
  fresh boolean;
  n integer := 0;
begin
  if events is null or jsonb_typeof(events) <> 'array' then
    raise exception 'vigil_record: events must be a JSON array' using errcode = '22023';
  end if;
  for ev in select e.value from jsonb_array_elements(events) with ordinality as e(value, ord) order by e.ord loop
    eid := ev->>'id';
    etype := ev->>'type';
    inc := nullif(ev->>'incident', '');
    d := case when jsonb_typeof(ev->'data') = 'object' then ev->'data' else '{}'::jsonb end;
    -- No exception block here: each would open a subtransaction per event.
    at := case when jsonb_typeof(ev->'at') = 'number' and (ev->>'at')::numeric between 0 and 1e11
               then to_timestamp((ev->>'at')::double precision) end;

    if jsonb_typeof(ev) <> 'object' or eid is null or etype is null or at is null
       or (etype <> 'check_rollup' and inc is null)
       or etype not in ('opened', 'notified', 'escalated', 'acknowledged', 'resolved', 'false_positive',
                        'postmortem', 'reminded', 'upgraded', 'check_rollup') then
      insert into vigil_rejected_events (digest, payload, reason)
      values (md5(ev::text), ev, 'needs id, a known type, numeric at, and incident (except check_rollup)')
      on conflict (digest) do nothing;
      continue;
    end if;

    if etype = 'check_rollup' then
      -- Not a timeline event: the newest rollup of a (check, hour) wins.
      fresh := null;
      begin  -- rare (one per check and hour): a subtransaction is affordable here
      insert into vigil_check_rollups as r (
        check_name, hour, up_minutes, total_minutes, p50, p95, p99, event_id, at
      ) values (
        coalesce(d->>'check', ''),
        to_timestamp((d->>'hour')::double precision),
        coalesce((d->>'up_minutes')::int, 0),
        coalesce((d->>'total_minutes')::int, 0),
        (d->>'p50')::double precision,
        (d->>'p95')::double precision,
        (d->>'p99')::double precision,
        eid, at
      )
      on conflict (check_name, hour) do update set
        up_minutes = excluded.up_minutes, total_minutes = excluded.total_minutes,
        p50 = excluded.p50, p95 = excluded.p95, p99 = excluded.p99,
        event_id = excluded.event_id, at = excluded.at
      where r.at < excluded.at or (r.at = excluded.at and r.event_id <> excluded.event_id)
      returning true into fresh;  -- no row: an older or the same rollup again
      exception when data_exception then
        insert into vigil_rejected_events (digest, payload, reason)
        values (md5(ev::text), ev, 'check_rollup: ' || sqlerrm)
        on conflict (digest) do nothing;
        continue;
      end;
      if coalesce(fresh, false) then
        n := n + 1;
      end if;
      continue;
    end if;

    insert into vigil_incident_events (id, incident_id, type, at, data)
    values (eid, inc, etype, at, d)
    on conflict (id) do nothing;
    if found then
      n := n + 1;
      perform vigil_apply_event(inc, etype, at, d);
    end if;
  end loop;
  return n;
end
$$;

-- Functions are executable by PUBLIC by default: only the service role may call these.
revoke all on function public.vigil_apply_event(text, text, timestamptz, jsonb) from public, anon, authenticated;
revoke all on function public.vigil_record(jsonb) from public, anon, authenticated;
grant execute on function public.vigil_apply_event(text, text, timestamptz, jsonb) to service_role;
grant execute on function public.vigil_record(jsonb) to service_role;
