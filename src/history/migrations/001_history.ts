/**
 * Migration 1: the history schema's tables (campaigns, contacts, attempts,
 * callbacks) and their indexes. SQL kept in a module so that the build
 * ships it with the compiled code; a migration, once released, never changes.
 */
export default /* sql */ `
-- The call history: campaigns, their contacts and attempts, and the raw
-- callbacks, as the archiver moves them out of Redis. Rows are keyed so that
-- writing one again changes nothing (the archiver writes at least once).

CREATE TABLE autodialer.campaigns (
  id             text PRIMARY KEY,
  name           text NOT NULL,
  provider       text NOT NULL,
  action         text NOT NULL,
  definition     json NOT NULL,
  state          text NOT NULL,
  created_at     timestamptz NOT NULL,
  started_at     timestamptz,
  finished_at    timestamptz,
  header         json NOT NULL,
  total          integer NOT NULL,
  import_summary json,
  schedule       text,
  tick           text,
  -- Counts by status, report sums, callback counters, notifications and pace limits, as the status reads them.
  summary        json NOT NULL,
  -- Every contact archived final.
  archived_at    timestamptz,
  -- Contacts and attempts left Redis (the summary stays there).
  purged_at      timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE autodialer.contacts (
  campaign_id      text NOT NULL,
  idx              integer NOT NULL,
  line             integer NOT NULL,
  number           text,
  e164             text,
  zone             text,
  -- The list's original cells, in order (a JSON array of text).
  columns          json NOT NULL,
  custom           json,
  status           text NOT NULL,
  -- The result, as the export writes it.
  attempts         integer NOT NULL,
  customuuid       text,
  provider_call_id text,
  billsec          double precision,
  userkey          text,
  answered_at      text,
  ended_at         text,
  hangupcause      text,
  error            text,
  late             boolean NOT NULL,
  -- Dials made (attempt numbers 1..dials) and the contact's own reason (a reject, an expiry).
  dials            integer NOT NULL,
  reason           text,
  archived_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (campaign_id, idx)
);

CREATE TABLE autodialer.attempts (
  id               text PRIMARY KEY,
  campaign_id      text NOT NULL,
  contact_idx      integer NOT NULL,
  n                integer NOT NULL,
  family           text NOT NULL,
  number           text NOT NULL,
  e164             text,
  state            text NOT NULL,
  outcome          text,
  dial_kind        text,
  dialing_at       timestamptz,
  accepted_at      timestamptz,
  ringing_at       timestamptz,
  final_at         timestamptz,
  answered_at      text,
  ended_at         text,
  billsec          double precision,
  userkey          text,
  hangupcause      text,
  hangupdirection  text,
  provider_call_id text,
  call_uuid        text,
  result_source    text,
  late             boolean NOT NULL,
  in_doubt         boolean NOT NULL,
  duplicates       double precision,
  conflicts        double precision,
  corrected_from   text,
  error            text,
  callback_id      text,
  -- The record's version in Redis: a later one replaces an earlier one, never the reverse.
  ver              integer NOT NULL,
  archived_at      timestamptz NOT NULL DEFAULT now()
);
-- A number's history, newest first.
CREATE INDEX attempts_by_number ON autodialer.attempts (e164, dialing_at DESC);
-- A campaign's attempts, contact by contact.
CREATE INDEX attempts_by_campaign ON autodialer.attempts (campaign_id, contact_idx, n);

CREATE TABLE autodialer.callbacks (
  id           text PRIMARY KEY,
  kind         text NOT NULL,
  received_at  timestamptz NOT NULL,
  remote_ip    text NOT NULL,
  content_type text NOT NULL,
  body         text NOT NULL,
  -- What it turned out to be (null: never settled), and the attempt it was tied to.
  counter      text,
  settled_as   text,
  attempt_id   text,
  campaign_id  text,
  archived_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX callbacks_by_attempt ON autodialer.callbacks (attempt_id) WHERE attempt_id IS NOT NULL;
CREATE INDEX callbacks_by_campaign ON autodialer.callbacks (campaign_id, received_at) WHERE campaign_id IS NOT NULL;
`;
