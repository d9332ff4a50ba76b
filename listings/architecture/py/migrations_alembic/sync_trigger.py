"""The SQL of the trigger that keeps `name` and `full_name` equal while
both releases run. Frozen: revisions 0002 and 0006 use it, so it must never
change; a new version of it would be a new constant."""

# ANCHOR: trigger
CREATE_SYNC_TRIGGER = """
CREATE FUNCTION customer_sync_name() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.full_name := coalesce(NEW.full_name, NEW.name);
        NEW.name := coalesce(NEW.name, NEW.full_name);
    ELSIF NEW.name IS DISTINCT FROM OLD.name THEN
        NEW.full_name := NEW.name;
    ELSIF NEW.full_name IS DISTINCT FROM OLD.full_name THEN
        NEW.name := NEW.full_name;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER customer_sync_name
    BEFORE INSERT OR UPDATE ON customer
    FOR EACH ROW EXECUTE FUNCTION customer_sync_name()
"""

DROP_SYNC_TRIGGER = """
DROP TRIGGER customer_sync_name ON customer;
DROP FUNCTION customer_sync_name()
"""
# ANCHOR_END: trigger
