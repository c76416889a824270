-- FerretDB 1.x (PostgreSQL backend) pushes an equality filter on a top-level field down as
-- `_jsonb->'<field>' @> '<value>'`, but the indexes it creates are btrees on `_jsonb->'<field>'`, which cannot
-- serve `@>`. Every lookup or conditional update by `_id` is then a sequential scan of the collection's table
-- (44 ms at 31,000 documents, growing with the table), and so is every lookup by user id or token hash.
-- A GIN jsonb_path_ops index on the same expression serves `@>` (0.45 ms there). An event trigger adds one for
-- `_id` to every table FerretDB creates, and one for `userId` and `tokenHash` next to every index FerretDB
-- creates on those fields (the read models' `{appId, userId}` and `{appId, tokenHash}`); existing tables get
-- them here. `appId` gets none: one app can hold a whole table. FerretDB keeps its own index list, so it neither
-- lists nor drops these (dropping a collection drops its table and the indexes with it). MongoDB needs none.
\connect :"fdb"
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION public.pushledger_ferretdb_gin_index(tbl regclass, field text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = '_jsonb' AND NOT attisdropped)
     AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
                     WHERE i.indrelid = tbl AND a.amname = 'gin'
                       AND pg_get_indexdef(i.indexrelid) LIKE format('%%(_jsonb -> %L::text)%%', field)) THEN
    EXECUTE format('CREATE INDEX ON %s USING gin ((_jsonb -> %L) jsonb_path_ops)', tbl, field);
  END IF;
END
$f$;
-- The fields whose lookups get a GIN index when FerretDB indexes them (besides `_id`, which every table gets).
CREATE OR REPLACE FUNCTION public.pushledger_ferretdb_lookup_fields() RETURNS text[] LANGUAGE sql IMMUTABLE AS $f$
  SELECT ARRAY['userId', 'tokenHash']
$f$;
CREATE OR REPLACE FUNCTION public.pushledger_ferretdb_index_lookups(idx regclass) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  tbl regclass;
  field text;
BEGIN
  SELECT i.indrelid INTO tbl FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
    WHERE i.indexrelid = idx AND a.amname = 'btree';
  IF tbl IS NULL THEN RETURN; END IF;
  FOREACH field IN ARRAY public.pushledger_ferretdb_lookup_fields() LOOP
    IF pg_get_indexdef(idx) LIKE format('%%(_jsonb -> %L::text)%%', field) THEN
      PERFORM public.pushledger_ferretdb_gin_index(tbl, field);
    END IF;
  END LOOP;
END
$f$;
CREATE OR REPLACE FUNCTION public.pushledger_ferretdb_on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $f$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT objid, command_tag FROM pg_event_trigger_ddl_commands() WHERE object_type IN ('table', 'index') LOOP
    IF r.command_tag = 'CREATE TABLE' THEN
      PERFORM public.pushledger_ferretdb_gin_index(r.objid::regclass, '_id');
    ELSIF r.command_tag = 'CREATE INDEX' THEN
      PERFORM public.pushledger_ferretdb_index_lookups(r.objid::regclass);
    END IF;
  END LOOP;
END
$f$;
DROP EVENT TRIGGER IF EXISTS pushledger_ferretdb_id_index;
DROP FUNCTION IF EXISTS public.pushledger_ferretdb_on_create_table();
DROP FUNCTION IF EXISTS public.pushledger_ferretdb_id_index(regclass);
CREATE EVENT TRIGGER pushledger_ferretdb_id_index ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'CREATE INDEX')
  EXECUTE FUNCTION public.pushledger_ferretdb_on_ddl();
SELECT count(public.pushledger_ferretdb_gin_index(c.oid, '_id'))
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema');
SELECT count(public.pushledger_ferretdb_index_lookups(i.indexrelid))
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema');
