-- FerretDB 1.x (PostgreSQL backend) pushes an `_id` filter down as `_jsonb->'_id' @> '"<id>"'`, but the index it
-- creates for `_id` is a btree on `_jsonb->'_id'`, which cannot serve `@>`. Every lookup or conditional update by
-- `_id` is then a sequential scan of the collection's table (44 ms at 31,000 documents, growing with the table).
-- A GIN jsonb_path_ops index on the same expression serves `@>` (0.45 ms there). An event trigger adds it to
-- every table FerretDB creates; existing tables get it here. FerretDB keeps its own index list, so it neither
-- lists nor drops this one (dropping a collection drops its table and the index with it). MongoDB needs none.
\connect :"fdb"
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION public.pushledger_ferretdb_id_index(tbl regclass) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = '_jsonb' AND NOT attisdropped)
     AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
                     WHERE i.indrelid = tbl AND a.amname = 'gin') THEN
    EXECUTE format('CREATE INDEX ON %s USING gin ((_jsonb -> ''_id'') jsonb_path_ops)', tbl);
  END IF;
END
$f$;
CREATE OR REPLACE FUNCTION public.pushledger_ferretdb_on_create_table() RETURNS event_trigger LANGUAGE plpgsql AS $f$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
    PERFORM public.pushledger_ferretdb_id_index(r.objid::regclass);
  END LOOP;
END
$f$;
DROP EVENT TRIGGER IF EXISTS pushledger_ferretdb_id_index;
CREATE EVENT TRIGGER pushledger_ferretdb_id_index ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION public.pushledger_ferretdb_on_create_table();
SELECT count(public.pushledger_ferretdb_id_index(c.oid))
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema');
