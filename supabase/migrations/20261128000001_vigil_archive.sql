-- Vigil's durable record: incidents, their timeline, hourly check rollups.
--
-- Written only through vigil_record(events jsonb), called by the archive cron
-- with the service role key (POST /rest/v1/rpc/vigil_record). Row level
-- security is on with no policies, and anon/authenticated have no grants:
-- the public API keys can neither read nor write any of it.

-- Supabase has these roles; a plain PostgreSQL (tests, self-hosted) does not.
-- Roles are cluster-wide: tolerate a concurrent session creating them too.
do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if not exists (select 1 from pg_roles where rolname = r) then
      begin
        if r = 'service_role' then
          -- Supabase's service_role bypasses row level security.
          execute format('create role %I nologin noinherit bypassrls', r);
        else
          execute format('create role %I nologin noinherit', r);
        end if;
      exception when duplicate_object or unique_violation then
        null;
      end;
    end if;
  end loop;
end
$$;

create table if not exists public.vigil_incidents (
  id                    text primary key,          -- "1042", shown as "#1042" (Redis counter)
  key                   text not null default '',  -- dedup identity: check:api, sentry:issue:4567, ...
  severity              text check (severity in ('P0', 'P1', 'P2', 'P3')),
  status                text not null default 'triggered'
                        check (status in ('triggered', 'acknowledged', 'resolved')),
  title                 text not null default '',
  summary               text not null default '',
  source                text not null default '',
  labels                jsonb not null default '{}'::jsonb,
  links                 jsonb not null default '{}'::jsonb,
  opened_at             timestamptz,               -- null only if its "opened" event never arrived
  acked_at              timestamptz,
  acked_by              text,
  acked_via             text,
  resolved_at           timestamptz,
  resolved_by           text,
  resolved_via          text,
  false_positive        text,                      -- the reason, when marked a false positive
  false_positive_by     text,
  false_positive_at     timestamptz,
  postmortem_url        text,
  postmortem_by         text,
  postmortem_at         timestamptz,
  escalations           integer not null default 0,
  escalated_at          timestamptz,               -- first escalation
  notifications         integer not null default 0,
  notifications_failed  integer not null default 0,
  reminders             integer not null default 0,
  updated_at            timestamptz not null default now()
);

-- The timeline: one row per event, its id being the event id, so a retried
-- batch inserts nothing twice. No foreign key to vigil_incidents: an event can
-- name an incident whose row vigil_record creates in the same call.
create table if not exists public.vigil_incident_events (
  id           text primary key,
  seq          bigint generated always as identity,  -- arrival order
  incident_id  text not null,
  type         text not null check (type in (
                 'opened', 'notified', 'escalated', 'acknowledged', 'resolved',
                 'false_positive', 'postmortem', 'reminded', 'upgraded')),
  at           timestamptz not null,
  data         jsonb not null default '{}'::jsonb,
  recorded_at  timestamptz not null default now()
);

create table if not exists public.vigil_check_rollups (
  check_name     text not null,
  hour           timestamptz not null,
  up_minutes     integer not null default 0,
  total_minutes  integer not null default 0,
  p50            double precision,                  -- seconds
  p95            double precision,
  p99            double precision,
  event_id       text not null,
  at             timestamptz not null,              -- when the rollup was computed: newer wins
  primary key (check_name, hour)
);

-- Events vigil_record could not use (no id, unknown type, bad time): kept for
-- a human instead of failing the whole batch forever.
create table if not exists public.vigil_rejected_events (
  digest       text primary key,                    -- md5 of the payload: a retry adds nothing
  payload      jsonb not null,
  reason       text not null,
  recorded_at  timestamptz not null default now()
);

-- For the reports: incidents in a window, by key; timeline by incident and by type.
create index if not exists vigil_incidents_opened_at_idx on public.vigil_incidents (opened_at);
create index if not exists vigil_incidents_key_opened_at_idx on public.vigil_incidents (key, opened_at);
create index if not exists vigil_incidents_source_severity_idx on public.vigil_incidents (source, severity, opened_at);
create index if not exists vigil_incident_events_incident_idx on public.vigil_incident_events (incident_id, at, seq);
create index if not exists vigil_incident_events_type_at_idx on public.vigil_incident_events (type, at);
create index if not exists vigil_check_rollups_hour_idx on public.vigil_check_rollups (hour);

alter table public.vigil_incidents enable row level security;
alter table public.vigil_incident_events enable row level security;
alter table public.vigil_check_rollups enable row level security;
alter table public.vigil_rejected_events enable row level security;

revoke all on public.vigil_incidents, public.vigil_incident_events,
  public.vigil_check_rollups, public.vigil_rejected_events from anon, authenticated;
grant select, insert, update, delete on public.vigil_incidents, public.vigil_incident_events,
  public.vigil_check_rollups, public.vigil_rejected_events to service_role;
