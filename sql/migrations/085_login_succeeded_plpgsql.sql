-- 085: fluentai_login_succeeded() (040) in PL/pgSQL.
--
-- Every successful login, password change and password reset calls it in
-- its statement.  As a LANGUAGE sql function that is neither a SELECT nor
-- inlinable, PostgreSQL parsed and planned its DELETE again on every call:
-- about 0.19 ms of backend CPU per login, as much as the rest of the
-- login's two statements together.  PL/pgSQL keeps the DELETE's plan for
-- the life of the connection.  Same signature, same effect (the account's
-- throttle row is deleted: the count starts again).
CREATE OR REPLACE FUNCTION fluentai_login_succeeded(p_email text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    DELETE FROM login_throttle WHERE email = p_email;
END
$$;
