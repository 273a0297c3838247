-- 050: what GET /auth/sessions shows of a session besides its times: the
-- client it was opened from, as nginx saw it at login or registration.
--
--   user_agent : the User-Agent header, at most 256 bytes, everything but
--                printable ASCII replaced by '?' (the module does that)
--   ip         : the client address after nginx's realip module; NULL for
--                a unix socket client and for sessions older than 050

ALTER TABLE sessions
    ADD COLUMN IF NOT EXISTS user_agent text
        CHECK (octet_length(user_agent) <= 256),
    ADD COLUMN IF NOT EXISTS ip inet;
