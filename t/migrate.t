#!/usr/bin/perl
# Tests for sql/migrate.sh, sql/migrations/* and fluentai_refresh().
#
#   prove t/migrate.t
#
# With TEST_NGINX_PG_CONNINFO (conninfo of a superuser on a throwaway
# cluster) the scratch databases are created on that cluster; without it a
# private cluster is started (initdb as the postgres user when run as root,
# unix socket only, in a temp dir) and removed at the end.  PG_BIN overrides
# the PostgreSQL binaries directory (default /usr/lib/postgresql/15/bin).

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(remove_tree);
use FindBin;
use POSIX ();
use Time::HiRes qw(sleep time);

my $ROOT    = "$FindBin::Bin/..";
my $MIGRATE = "$ROOT/sql/migrate.sh";
my $PSQL    = $ENV{PSQL} // 'psql';
my $PG_BIN  = $ENV{PG_BIN} // '/usr/lib/postgresql/15/bin';
my $PARENT  = $$;

my @MIGRATIONS = sort { ($a =~ /^(\d+)/)[0] <=> ($b =~ /^(\d+)/)[0] }
                 map { m{([^/]+)\.sql$} ? $1 : () }
                 glob("$ROOT/sql/migrations/[0-9]*_*.sql");

my ($cluster_dir, $base_conninfo, @scratch, $cleaned);

# ---------------------------------------------------------------- helpers

# run_cmd($stdin, @cmd) -> ($exit_code, $stdout, $stderr)
sub run_cmd {
    my ($stdin, @cmd) = @_;
    my $pid = spawn($stdin, @cmd);
    return finish($pid);
}

my %spawned;
sub spawn {
    my ($stdin, @cmd) = @_;
    my $in  = File::Temp->new;
    my $out = File::Temp->new;
    my $err = File::Temp->new;
    print {$in} $stdin // '';
    close $in;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN,  '<', $in->filename  or POSIX::_exit(126);
        open STDOUT, '>', $out->filename or POSIX::_exit(126);
        open STDERR, '>', $err->filename or POSIX::_exit(126);
        exec(@cmd) or POSIX::_exit(127);
    }
    $spawned{$pid} = [$in, $out, $err];
    return $pid;
}

sub finish {
    my ($pid) = @_;
    waitpid($pid, 0);
    my $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    my ($in, $out, $err) = @{ delete $spawned{$pid} };
    return ($rc, slurp($out->filename), slurp($err->filename));
}

sub slurp {
    open my $fh, '<', $_[0] or return '';
    local $/;
    my $s = <$fh>;
    return $s // '';
}

sub conninfo {
    my ($db) = @_;
    return $base_conninfo unless defined $db;
    if ($base_conninfo =~ m{^postgres(?:ql)?://}) {
        (my $c = $base_conninfo) =~ s{^(postgres(?:ql)?://[^/?]*)(?:/[^?]*)?}{$1/$db};
        return $c;
    }
    return "$base_conninfo dbname=$db";     # libpq: the last dbname wins
}

# psql($db, $sql) -> trimmed -At output; dies on error
sub psql {
    my ($db, $sql) = @_;
    my ($rc, $out, $err) = psql_try($db, $sql);
    die "psql failed ($rc): $err\nSQL: $sql\n" if $rc;
    return $out;
}

sub psql_try {
    my ($db, $sql) = @_;
    my ($rc, $out, $err) = run_cmd($sql, $PSQL, '-X', '-q', '-At',
        '-v', 'ON_ERROR_STOP=1', '-d', conninfo($db));
    $out =~ s/\s+\z//;
    return ($rc, $out, $err);
}

sub migrate {
    my ($db) = @_;
    return run_cmd(undef, $MIGRATE, conninfo($db));
}

my $dbseq = 0;
sub scratch_db {
    my ($tag) = @_;
    my $name = sprintf 'fluentai_mt_%d_%d_%s', $$, ++$dbseq, $tag;
    psql(undef, qq{CREATE DATABASE "$name"});
    push @scratch, $name;
    return $name;
}

sub as_pg_user {
    return $> == 0 ? ('runuser', '-u', 'postgres', '--', @_) : @_;
}

sub cleanup {
    return if $cleaned || $$ != $PARENT;
    $cleaned = 1;
    local @SIG{qw(INT TERM HUP PIPE)} = ('IGNORE') x 4;
    kill 'TERM', keys %spawned;
    waitpid($_, 0) for keys %spawned;
    if ($cluster_dir) {
        run_cmd(undef, as_pg_user("$PG_BIN/pg_ctl", '-D', "$cluster_dir/data",
                                   '-m', 'immediate', '-w', 'stop'));
        remove_tree($cluster_dir);
    } elsif ($base_conninfo) {
        for my $db (@scratch) {
            psql_try(undef, qq{DROP DATABASE IF EXISTS "$db" WITH (FORCE)});
        }
    }
}

END { local $?; cleanup() }
# Turn signals into die, so END cleans up.  Once dying, ignore further
# signals (e.g. SIGPIPE when prove is gone and the die message is printed).
for my $sig (qw(INT TERM HUP PIPE)) {
    $SIG{$sig} = sub {
        $SIG{$_} = 'IGNORE' for qw(INT TERM HUP PIPE);
        die "killed by SIG$sig\n";
    };
}

sub hex32 { return "decode('" . ($_[0] x 32) . "','hex')" }

# ---------------------------------------------------------------- cluster

if (defined $ENV{TEST_NGINX_PG_CONNINFO} && $ENV{TEST_NGINX_PG_CONNINFO} ne '') {
    # migrations go to the server itself, also when the suites run through
    # PgBouncer (TEST_NGINX_PG_DIRECT_CONNINFO; it refuses PGOPTIONS)
    $base_conninfo = $ENV{TEST_NGINX_PG_DIRECT_CONNINFO}
                     // $ENV{TEST_NGINX_PG_CONNINFO};
} else {
    plan skip_all => "no TEST_NGINX_PG_CONNINFO and no $PG_BIN/initdb"
        unless -x "$PG_BIN/initdb";
    if ($> == 0) {
        plan skip_all => 'running as root and there is no postgres user'
            unless defined getpwnam('postgres');
    }
    $cluster_dir = tempdir('fluentai-mt-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    if ($> == 0) {
        my (undef, undef, $uid, $gid) = getpwnam('postgres');
        chown $uid, $gid, $cluster_dir or die "chown $cluster_dir: $!";
    }
    my ($rc, $out, $err) = run_cmd(undef, as_pg_user("$PG_BIN/initdb",
        '-D', "$cluster_dir/data", '-A', 'trust', '-U', 'postgres',
        '-E', 'UTF8', '--no-sync'));
    die "initdb failed: $out$err" if $rc;
    my $port = 20000 + int(rand(40000));
    ($rc, $out, $err) = run_cmd(undef, as_pg_user("$PG_BIN/pg_ctl",
        '-D', "$cluster_dir/data", '-l', "$cluster_dir/postgres.log", '-w',
        '-o', "-k $cluster_dir -p $port -c listen_addresses='' -c fsync=off",
        'start'));
    die "pg_ctl start failed: $out$err" . slurp("$cluster_dir/postgres.log") if $rc;
    $base_conninfo = "host=$cluster_dir port=$port dbname=postgres user=postgres";
    diag "private cluster in $cluster_dir (port $port)";
}

ok(@MIGRATIONS >= 3, 'migration files found: ' . join(' ', @MIGRATIONS));

# ---------------------------------------------------------------- (a) empty db

my $A = scratch_db('empty');
{
    my ($rc, $out, $err) = migrate($A);
    is($rc, 0, '(a) migrate on empty db exits 0') or diag $out, $err;
    my @applied = $out =~ /^applied (\d\S*)$/mg;
    is_deeply(\@applied, \@MIGRATIONS, '(a) every migration applied, in order');
    is($err, '', '(a) nothing on stderr');

    ($rc, $out, $err) = migrate($A);
    is($rc, 0, '(a) second run exits 0');
    unlike($out, qr/^applied /m, '(a) second run applies nothing');
    like($out, qr/nothing to apply/, '(a) second run says so');

    is(psql($A, 'SELECT string_agg(version, \' \' ORDER BY version) FROM fluentai_schema_migrations'),
       join(' ', @MIGRATIONS), '(a) version rows recorded');

    my $TZ = 'timestamp with time zone';
    my %want = (   # name => [type(s), nullable, default]
        users => [
            [id => 'uuid', 'NO', 'gen_random_uuid()'],
            [email => 'character varying|text', 'NO', ''],
            [name => 'character varying|text', 'NO', ''],
            [hashed_password => 'character varying|text', 'NO', ''],
            [avatar => 'character varying|text', 'YES', ''],
            [bio => 'text', 'YES', ''],
            [is_active => 'boolean', 'NO', 'true'],
            [created_at => $TZ, 'NO', 'now()'],
            [updated_at => $TZ, 'NO', 'now()'],
            [credential_version => 'integer', 'NO', '1'],
            [email_verified_at => $TZ, 'YES', ''],
        ],
        sessions => [
            [id => 'uuid', 'NO', 'gen_random_uuid()'],
            [user_id => 'uuid', 'NO', ''],
            [created_at => $TZ, 'NO', 'now()'],
            [expires_at => $TZ, 'NO', ''],
            [last_used_at => $TZ, 'YES', ''],
            [revoked_at => $TZ, 'YES', ''],
            [revoke_reason => 'text', 'YES', ''],
            [remember => 'boolean', 'NO', 'true'],
            [credential_version => 'integer', 'NO', ''],
            [user_agent => 'text', 'YES', ''],          # 050
            [ip => 'inet', 'YES', ''],                  # 050
        ],
        refresh_tokens => [
            [hash => 'bytea', 'NO', ''],
            [session_id => 'uuid', 'NO', ''],
            [created_at => $TZ, 'NO', 'now()'],
            [used_at => $TZ, 'YES', ''],
        ],
    );
    for my $t (sort keys %want) {
        my $got = psql($A, qq{
            SELECT column_name, data_type, is_nullable, coalesce(column_default, '')
              FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = '$t'
             ORDER BY ordinal_position});
        my @got  = map { [split /\|/, $_, -1] } split /\n/, $got;
        my @want = @{ $want{$t} };
        my $okay = @got == @want;
        for my $i (0 .. $#want) {
            last unless $okay;
            my ($n, $types, $null, $def) = @{ $want[$i] };
            my ($gn, $gt, $gnull, $gdef) = @{ $got[$i] };
            $okay &&= $gn eq $n && (grep { $_ eq $gt } split /\|/, $types)
                   && $gnull eq $null && $gdef eq $def;
        }
        ok($okay, "(a) $t columns, types, nullability, defaults") or diag $got;
    }

    like(psql($A, q{SELECT indexdef FROM pg_indexes WHERE indexname = 'users_email_lower_key'}),
         qr/^CREATE UNIQUE INDEX users_email_lower_key ON \S*users USING btree \(lower\(\(?email/,
         '(a) unique index users_email_lower_key on lower(email)');
    is(psql($A, q{SELECT count(*) FROM pg_indexes WHERE indexname IN
                  ('sessions_user_id_idx', 'refresh_tokens_session_id_idx')}),
       2, '(a) indexes on sessions(user_id), refresh_tokens(session_id)');
    is(psql($A, q{SELECT pg_get_function_result('fluentai_refresh(bytea,bytea,integer,integer,integer)'::regprocedure)
                  || ' ' || provolatile::text FROM pg_proc
                  WHERE oid = 'fluentai_refresh(bytea,bytea,integer,integer,integer)'::regprocedure}),
       'TABLE(status text, session_id uuid, user_id uuid, ends_at bigint) v',
       '(a) fluentai_refresh(bytea, bytea, integer, integer, integer) signature, VOLATILE');
    is(psql($A, q{SELECT count(*) FROM pg_proc WHERE proname = 'fluentai_refresh'}), 1,
       '(a) one fluentai_refresh (the 4-argument form of 003 is replaced)');

    psql($A, q{INSERT INTO users (email, name, hashed_password) VALUES ('x@y.com', 'X', 'h')});
    my ($rc2, undef, $err2) = psql_try($A,
        q{INSERT INTO users (email, name, hashed_password) VALUES ('X@Y.com', 'X', 'h')});
    ok($rc2 && $err2 =~ /users_email_lower_key/, '(a) emails unique case-insensitively');
    my ($rc3, undef, $err3) = psql_try($A, q{INSERT INTO refresh_tokens (hash, session_id)
        VALUES ('\x00'::bytea, gen_random_uuid())});
    ok($rc3 && $err3 =~ /refresh_tokens_hash_check/, '(a) refresh_tokens.hash must be 32 bytes');
    psql($A, q{DELETE FROM users});
}

# ---------------------------------------------------------------- concurrent runners

{
    my $P = scratch_db('parallel');
    my @pids = map { spawn(undef, $MIGRATE, conninfo($P)) } 1 .. 4;
    my @res  = map { [finish($_)] } @pids;
    is(scalar(grep { $_->[0] == 0 } @res), 4, 'concurrent runners: all 4 exit 0')
        or diag map { "$_->[1]$_->[2]" } @res;
    my %count;
    $count{$_}++ for map { $_->[1] =~ /^applied (\d\S*)$/mg } @res;
    is_deeply(\%count, { map { $_ => 1 } @MIGRATIONS },
              'concurrent runners: each migration applied exactly once');
    is(psql($P, 'SELECT count(*) FROM fluentai_schema_migrations'), scalar(@MIGRATIONS),
       'concurrent runners: one version row per migration');
}

# ---------------------------------------------------------------- (b) original db

my $ORIGINAL_DDL = q{
    CREATE TABLE users (id UUID PRIMARY KEY, email VARCHAR NOT NULL,
        name VARCHAR NOT NULL, hashed_password VARCHAR NOT NULL,
        avatar VARCHAR, bio TEXT, is_active BOOLEAN DEFAULT true,
        created_at TIMESTAMP WITH TIME ZONE DEFAULT now(),
        updated_at TIMESTAMP WITH TIME ZONE);
    CREATE UNIQUE INDEX ix_users_email ON users (email);
};
my $BCRYPT = '$2b$12$' . ('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY0');

{
    my $B = scratch_db('original');
    psql($B, $ORIGINAL_DDL . qq{
        INSERT INTO users (id, email, name, hashed_password, updated_at)
        VALUES ('6f1c2a70-8c3e-4b1e-9d55-0a9e2a1f0001', 'Ann\@Example.com', 'Ann',
                '$BCRYPT', NULL);
        INSERT INTO users (id, email, name, hashed_password, is_active, created_at)
        VALUES ('6f1c2a70-8c3e-4b1e-9d55-0a9e2a1f0002', '  Carl\@X.com ', 'Carl',
                '$BCRYPT', NULL, NULL);
    });
    my ($rc, $out, $err) = migrate($B);
    is($rc, 0, '(b) migrate on original-shaped db exits 0') or diag $out, $err;
    is(psql($B, q{SELECT email || ' ' || hashed_password || ' ' || (updated_at IS NOT NULL)
                  FROM users WHERE id = '6f1c2a70-8c3e-4b1e-9d55-0a9e2a1f0001'}),
       "ann\@example.com $BCRYPT true",
       '(b) row kept: same id, same bcrypt hash, email lower-cased, updated_at filled');
    is(psql($B, q{SELECT email || ' ' || is_active || ' ' || (created_at IS NOT NULL)
                  || ' ' || (updated_at IS NOT NULL)
                  FROM users WHERE id = '6f1c2a70-8c3e-4b1e-9d55-0a9e2a1f0002'}),
       'carl@x.com true true true', '(b) email trimmed, NULL is_active/created_at filled');
    is(psql($B, 'SELECT count(*) FROM users'), 2, '(b) no rows lost or added');
    is(psql($B, q{SELECT count(*) FROM pg_indexes WHERE indexname = 'users_email_lower_key'}),
       1, '(b) users_email_lower_key created');
    is(psql($B, q{SELECT column_default || ' ' || is_nullable FROM information_schema.columns
                  WHERE table_name = 'users' AND column_name = 'is_active'}),
       'true NO', '(b) is_active default true not null');
    like(psql($B, q{INSERT INTO users (email, name, hashed_password)
                    VALUES ('new@x.com', 'N', 'h') RETURNING id, is_active, updated_at IS NOT NULL}),
         qr/^[0-9a-f-]{36}\|t\|t$/, '(b) defaults work for new rows');
    ($rc, $out) = migrate($B);
    ok($rc == 0 && $out =~ /nothing to apply/, '(b) second run applies nothing');
}

{   # (b2) SQLAlchemy naive DateTime columns, no is_active, no primary key
    my $B2 = scratch_db('naive');
    psql($B2, qq{
        CREATE TABLE users (id UUID NOT NULL, email VARCHAR(255) NOT NULL,
            name VARCHAR(100) NOT NULL, hashed_password VARCHAR NOT NULL,
            created_at TIMESTAMP WITHOUT TIME ZONE,
            updated_at TIMESTAMP WITHOUT TIME ZONE);
        INSERT INTO users VALUES ('6f1c2a70-8c3e-4b1e-9d55-0a9e2a1f0003',
            'Dora\@x.com', 'Dora', '$BCRYPT', '2024-01-02 03:04:05', NULL);
    });
    my ($rc, $out, $err) = migrate($B2);
    is($rc, 0, '(b2) migrate on a variant original (naive timestamps, fewer columns) exits 0')
        or diag $out, $err;
    is(psql($B2, q{SET TimeZone = 'UTC'; SELECT email || ' ' || is_active || ' ' || created_at
                   || ' ' || updated_at || ' ' || (avatar IS NULL) FROM users}),
       'dora@x.com true 2024-01-02 03:04:05+00 2024-01-02 03:04:05+00 true',
       '(b2) timestamps converted as UTC, missing columns added and filled');
    is(psql($B2, q{SELECT count(*) FROM pg_constraint
                   WHERE conrelid = 'users'::regclass AND contype = 'p'}),
       1, '(b2) primary key added');
}

# ---------------------------------------------------------------- (c) collision

{
    my $C = scratch_db('collide');
    psql($C, $ORIGINAL_DDL . qq{
        INSERT INTO users (id, email, name, hashed_password) VALUES
          (gen_random_uuid(), 'bob\@x.com', 'Bob', '$BCRYPT'),
          (gen_random_uuid(), 'BOB\@x.com', 'Bob2', '$BCRYPT'),
          (gen_random_uuid(), 'eve\@x.com', 'Eve', '$BCRYPT');
    });
    my ($rc, $out, $err) = migrate($C);
    isnt($rc, 0, '(c) migrate exits non-zero on case-colliding emails');
    my $all = "$out$err";
    ok($all =~ /emails differ only in case/ && $all =~ /\bbob\@x\.com\b/
       && $all =~ /\bBOB\@x\.com\b/, '(c) output names both colliding emails')
        or diag $all;
    unlike($out, qr/^applied /m, '(c) no migration reported as applied');
    is(psql($C, q{SELECT to_regclass('sessions') IS NULL}), 't', '(c) no sessions table');
    is(psql($C, q{SELECT count(*) FROM fluentai_schema_migrations}), 0, '(c) no version row');
    is(psql($C, q{SELECT string_agg(email, ' ' ORDER BY email COLLATE "C") FROM users}),
       'BOB@x.com bob@x.com eve@x.com', '(c) users untouched');
    is(psql($C, q{SELECT count(*) FROM pg_indexes WHERE indexname = 'users_email_lower_key'}),
       0, '(c) no partial schema change (index absent)');
}

# ---------------------------------------------------------------- (d) refresh semantics

sub mk_session {
    my ($db, %o) = @_;
    my $email   = $o{email} // 'u' . int(rand(1e9)) . '@x.com';
    my $active  = $o{active} // 'true';
    my $remember = $o{remember} // 'true';
    my $expires = $o{expires} // "now() + interval '1 hour'";
    my $r = psql($db, qq{
        WITH u AS (INSERT INTO users (email, name, hashed_password, is_active)
                   VALUES ('$email', 'U', '$BCRYPT', $active) RETURNING id),
             s AS (INSERT INTO sessions (user_id, expires_at, remember)
                   SELECT id, $expires, $remember FROM u RETURNING id, user_id),
             t AS (INSERT INTO refresh_tokens (hash, session_id)
                   SELECT ${\ hex32($o{tok})}, id FROM s)
        SELECT id || '|' || user_id FROM s});
    return split /\|/, $r;
}

sub refresh {
    my ($db, $old, $new, $ttl, $short) = @_;
    return psql($db, sprintf q{SELECT status || '|' || coalesce(session_id::text, '')
                               || '|' || coalesce(user_id::text, '')
                               FROM fluentai_refresh(%s, %s, %d, %d)},
                hex32($old), hex32($new), $ttl // 86400, $short // 3600);
}

{
    my ($sid, $uid) = mk_session($A, tok => 'aa');
    is(refresh($A, 'aa', 'bb'), "ok|$sid|$uid", '(d) fresh token -> ok with session and user');
    is(psql($A, q{SELECT (SELECT used_at IS NOT NULL FROM refresh_tokens WHERE hash = } . hex32('aa') . q{)
                  || ' ' || (SELECT session_id FROM refresh_tokens WHERE hash = } . hex32('bb')
                  . q{ AND used_at IS NULL)}),
       "true $sid", '(d) old token marked used, new token stored for the session');
    like(psql($A, qq{SELECT (last_used_at IS NOT NULL) || ' '
                      || round(extract(epoch FROM expires_at - now()))
                     FROM sessions WHERE id = '$sid'}),
         qr/^true 86(3[6-9]\d|400)$/, '(d) last_used_at set, expiry slid to now + p_ttl');

    is(refresh($A, 'bb', 'cc'), "ok|$sid|$uid", '(d) the new token rotates again');
    is(refresh($A, 'aa', 'dd'), "reused|$sid|$uid", '(d) stale token -> reused');
    is(psql($A, qq{SELECT (revoked_at IS NOT NULL) || ' ' || revoke_reason
                   FROM sessions WHERE id = '$sid'}),
       'true refresh_token_reused', '(d) reuse revokes the session');
    is(psql($A, 'SELECT count(*) FROM refresh_tokens WHERE hash = ' . hex32('dd')), 0,
       '(d) no token stored on reuse');
    is(refresh($A, 'cc', 'dd'), 'invalid||', '(d) latest token of a revoked session -> invalid');
    is(refresh($A, 'aa', 'dd'), "reused|$sid|$uid", '(d) stale token again -> reused (idempotent)');
    is(refresh($A, '99', 'dd'), 'invalid||', '(d) unknown token -> invalid');

    my ($sid2, $uid2) = mk_session($A, tok => 'a1', remember => 'false');
    is(refresh($A, 'a1', 'a2', 86400, 3600), "ok|$sid2|$uid2", '(d) remember=false session -> ok');
    like(psql($A, qq{SELECT round(extract(epoch FROM expires_at - now())) FROM sessions WHERE id = '$sid2'}),
         qr/^3(5[4-9]\d|600)$/, '(d) remember=false uses p_short_ttl');

    mk_session($A, tok => 'b1', expires => q{now() - interval '1 second'});
    is(refresh($A, 'b1', 'b2'), 'invalid||', '(d) expired session -> invalid');
    is(psql($A, 'SELECT used_at IS NULL FROM refresh_tokens WHERE hash = ' . hex32('b1')), 't',
       '(d) token of an expired session is not consumed');

    mk_session($A, tok => 'c1', active => 'false');
    is(refresh($A, 'c1', 'c2'), 'invalid||', '(d) inactive user -> invalid');

    mk_session($A, tok => 'e1');
    my ($rc, undef, $err) = psql_try($A, q{SELECT * FROM fluentai_refresh(} . hex32('e1')
                                     . q{, '\x0102'::bytea, 60, 60)});
    ok($rc && $err =~ /refresh_tokens_hash_check/, '(d) a new hash that is not 32 bytes is rejected');
    is(psql($A, 'SELECT used_at IS NULL FROM refresh_tokens WHERE hash = ' . hex32('e1')), 't',
       '(d) ... and the old token stays unused (whole call rolled back)');

    # purge
    my ($sid3) = mk_session($A, tok => 'f1');
    my ($sid4) = mk_session($A, tok => 'f2');
    psql($A, qq{UPDATE sessions SET revoked_at = now() - interval '31 days' WHERE id = '$sid3';
               UPDATE sessions SET revoked_at = now() - interval '29 days' WHERE id = '$sid4'});
    psql($A, q{UPDATE sessions SET expires_at = now() - interval '40 days'
               WHERE id = '} . $sid2 . q{'});
    is(psql($A, 'SELECT fluentai_purge()'), 2, 'fluentai_purge() deletes 2 old sessions');
    is(psql($A, qq{SELECT string_agg(id::text, ',') FROM sessions
                   WHERE id IN ('$sid2', '$sid3', '$sid4')}),
       $sid4, 'fluentai_purge() keeps recent ones');
    is(psql($A, 'SELECT count(*) FROM refresh_tokens WHERE hash IN ('
                . join(',', map { hex32($_) } qw(f1 a1 a2)) . ')'),
       0, 'fluentai_purge() cascades to refresh tokens');
}

# ---------------------------------------------------------------- (e) concurrency

sub race {
    my ($db, $tok, $n, $label, $barrier) = @_;
    my ($sid, $uid) = mk_session($db, tok => $tok);
    my $holder;
    if ($barrier) {
        # Hold the token row locked until all $n callers are queued on it.
        $holder = spawn(qq{
            BEGIN;
            SELECT pg_advisory_xact_lock(4242001);
            SELECT 1 FROM refresh_tokens WHERE hash = ${\ hex32($tok)} FOR UPDATE;
            DO \$\$
            DECLARE n int := 0; i int := 0;
            BEGIN
                LOOP
                    SELECT count(*) INTO n FROM pg_locks l
                     WHERE NOT l.granted
                       AND ((l.locktype = 'transactionid'
                             AND l.transactionid = xid(pg_current_xact_id()))
                         OR (l.locktype = 'tuple'
                             AND l.relation = 'refresh_tokens'::regclass));
                    EXIT WHEN n >= $n OR i >= 600;
                    PERFORM pg_sleep(0.05);
                    i := i + 1;
                END LOOP;
                PERFORM set_config('fluentai.waiters', n::text, true);
            END
            \$\$;
            SELECT 'waiters=' || current_setting('fluentai.waiters');
            COMMIT;
        }, $PSQL, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', conninfo($db));
        my $t0 = time;
        until (psql($db, q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
                           AND objid = 4242001 AND granted}) == 1) {
            die "barrier holder did not start" if time - $t0 > 20;
            sleep 0.05;
        }
    }
    # distinct new hashes, used by no other test and never equal to $tok:
    # '31'..'3a' for the first race, '41'..'4a' for the second
    my $prefix = $tok eq '77' ? '3' : '4';
    my @new = map { $prefix . sprintf('%x', $_) } 1 .. $n;
    my @pids = map {
        spawn(undef, $PSQL, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', conninfo($db),
              '-c', 'SELECT status FROM fluentai_refresh(' . hex32($tok) . ', '
                    . hex32($_) . ', 86400, 3600)')
    } @new;
    if ($holder) {
        my ($rc, $out, $err) = finish($holder);
        like($out, qr/^waiters=$n$/m, "$label: all $n callers were queued on the token row at once")
            or diag $out, $err;
    }
    my @res = map { [finish($_)] } @pids;
    my %st;
    $st{ $_->[0] == 0 ? ($_->[1] =~ s/\s+\z//r) : "error: $_->[2]" }++ for @res;
    is($st{ok} // 0, 1, "$label: exactly one of $n concurrent refreshes gets 'ok'")
        or diag explain \%st;
    is($st{reused} // 0, $n - 1, "$label: the other " . ($n - 1) . " get 'reused'")
        or diag explain \%st;
    is(psql($db, "SELECT count(*) FROM refresh_tokens WHERE session_id = '$sid'"), 2,
       "$label: exactly one new token row stored");
    is(psql($db, "SELECT revoke_reason FROM sessions WHERE id = '$sid'"),
       'refresh_token_reused', "$label: session revoked by the losing (stale) presentations");
}

race($A, '77', 10, '(e) barrier', 1);
race($A, '78', 10, '(e) free race', 0);

done_testing();
