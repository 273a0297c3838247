-- 001: users table.
--
-- Works on an empty database (creates the table) and on a database created
-- by the original FastAPI/SQLAlchemy backend (keeps every row, adds what is
-- missing, sets defaults / NOT NULL, normalises emails).  Runs inside the
-- transaction opened by sql/migrate.sh: do not put BEGIN/COMMIT here.

CREATE TABLE IF NOT EXISTS users (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email           varchar     NOT NULL,
    name            varchar     NOT NULL,
    hashed_password varchar     NOT NULL,
    avatar          varchar,
    bio             text,
    is_active       boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Sanity checks on a pre-existing table before touching anything.
DO $$
DECLARE
    t text;
BEGIN
    SELECT format_type(a.atttypid, a.atttypmod) INTO t
      FROM pg_attribute a
     WHERE a.attrelid = 'users'::regclass AND a.attname = 'id'
       AND NOT a.attisdropped;
    IF t IS DISTINCT FROM 'uuid' THEN
        RAISE EXCEPTION 'users.id must be uuid, found %', coalesce(t, 'no id column');
    END IF;
END
$$;

-- Columns the original table may lack.  name gets a temporary default so
-- the column can be added NOT NULL to a table with rows.
ALTER TABLE users ADD COLUMN IF NOT EXISTS email           varchar;
ALTER TABLE users ADD COLUMN IF NOT EXISTS name            varchar NOT NULL DEFAULT '';
ALTER TABLE users ALTER COLUMN name DROP DEFAULT;
ALTER TABLE users ADD COLUMN IF NOT EXISTS hashed_password varchar;
ALTER TABLE users ADD COLUMN IF NOT EXISTS avatar          varchar;
ALTER TABLE users ADD COLUMN IF NOT EXISTS bio             text;
ALTER TABLE users ADD COLUMN IF NOT EXISTS is_active       boolean;
ALTER TABLE users ADD COLUMN IF NOT EXISTS created_at      timestamptz;
ALTER TABLE users ADD COLUMN IF NOT EXISTS updated_at      timestamptz;

-- SQLAlchemy's plain DateTime is "timestamp without time zone"; the
-- original backend stored UTC there.  Convert to timestamptz.
DO $$
DECLARE
    c text;
BEGIN
    FOR c IN
        SELECT a.attname FROM pg_attribute a
         WHERE a.attrelid = 'users'::regclass
           AND a.attname IN ('created_at', 'updated_at')
           AND a.atttypid = 'timestamp'::regtype AND NOT a.attisdropped
    LOOP
        EXECUTE format('ALTER TABLE users ALTER COLUMN %I TYPE timestamptz
                        USING %I AT TIME ZONE ''UTC''', c, c);
    END LOOP;
END
$$;

-- Primary key on id if the old table had none.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conrelid = 'users'::regclass AND contype = 'p') THEN
        ALTER TABLE users ADD PRIMARY KEY (id);
    END IF;
END
$$;

-- Defaults and NOT NULL.
UPDATE users SET is_active  = true  WHERE is_active  IS NULL;
UPDATE users SET created_at = coalesce(updated_at, now()) WHERE created_at IS NULL;
UPDATE users SET updated_at = created_at WHERE updated_at IS NULL;

ALTER TABLE users
    ALTER COLUMN id              SET DEFAULT gen_random_uuid(),
    ALTER COLUMN email           SET NOT NULL,
    ALTER COLUMN name            SET NOT NULL,
    ALTER COLUMN hashed_password SET NOT NULL,
    ALTER COLUMN is_active       SET DEFAULT true,
    ALTER COLUMN is_active       SET NOT NULL,
    ALTER COLUMN created_at      SET DEFAULT now(),
    ALTER COLUMN created_at      SET NOT NULL,
    ALTER COLUMN updated_at      SET DEFAULT now(),
    ALTER COLUMN updated_at      SET NOT NULL;

-- Emails: refuse to merge accounts silently.  If two existing emails only
-- differ in case / surrounding spaces, stop and name them; an operator has
-- to resolve that by hand.
DO $$
DECLARE
    dups text;
BEGIN
    SELECT string_agg(g.emails, '; ' ORDER BY g.emails) INTO dups
      FROM (SELECT string_agg(u.email, ', ' ORDER BY u.email) AS emails
              FROM users u
             GROUP BY lower(btrim(u.email))
            HAVING count(*) > 1) g;
    IF dups IS NOT NULL THEN
        RAISE EXCEPTION 'emails differ only in case: %', dups
            USING HINT = 'Merge or rename these users, then run the migration again.';
    END IF;
END
$$;

UPDATE users SET email = lower(btrim(email))
 WHERE email IS DISTINCT FROM lower(btrim(email));

-- Case-insensitive uniqueness; lookups use WHERE lower(email) = lower($1).
-- (A legacy case-sensitive unique index such as ix_users_email is left in
-- place: it is redundant but harmless.)
CREATE UNIQUE INDEX IF NOT EXISTS users_email_lower_key ON users (lower(email));
