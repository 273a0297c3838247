#!/usr/bin/perl
# The per-worker PostgreSQL connection pool (src/ngx_http_fluentai_pg_*.c)
# against the real test database: queries, the size bound, an outage and
# the recovery after it, killed backends, the query timeout, a client that
# goes away mid-query or while waiting in the queue, the waiting queue, "fluentai_database_prepare off",
# reloads with open connections, and the logging during an outage.
#
#   t/run-suites t/pool.t
#
# Blocking the database on purpose: a separate psql session (the "locker",
# application_name fluentai-test-locker) holds LOCK TABLE users IN ACCESS
# EXCLUSIVE MODE, so every module query that reads users waits until the
# locker's backend is terminated.  Ordering never relies on sleeps: the
# test waits for the module's backend to show up waiting on the lock in
# pg_stat_activity, and for nginx's stub_status "Writing" count to include
# the requests it sent.
#
# This suite stops and starts the shared test PostgreSQL cluster (exactly
# as t/run-suites started it); an END block starts it again whatever
# happens.

use strict;
use warnings;

use File::Temp qw(tempdir);
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

use FluentAI::Test qw(:DEFAULT new_user wait_until);
use FluentAI::Pg qw(pg_stop pg_start pg_log);
use FluentAI::Hold qw(locker_start locker_stop hold_send hold_read);

for my $v (qw(TEST_NGINX_PG_CONNINFO TEST_NGINX_PG_CTL TEST_NGINX_PG_PGDATA
              TEST_NGINX_PG_HOST TEST_NGINX_PG_PORT))
{
    plan skip_all => "$v is not set (run via t/run-suites)"
        unless $ENV{$v};
}
plan skip_all => 'the pool\'s own server connections are what this suite '
    . 'watches (pg_stat_activity, locks, pg_terminate_backend); behind '
    . 'PgBouncer they are PgBouncer\'s'
    if $ENV{TEST_NGINX_PGBOUNCER};

# our own psql sessions are told apart from the module's (which set no
# application_name; nginx clears the environment of its processes)
$ENV{PGAPPNAME} = 'fluentai-test-psql';

my $VG = $Test::Nginx::Util::UseValgrind ? 1 : 0;
my $F  = Test::Nginx::Util::timeout_factor();       # 10 under valgrind
my $CONNINFO = $ENV{TEST_NGINX_PG_CONNINFO};
my $PGLOG = pg_log();

# "quick": an answer that did not wait for any timeout
my $QUICK = $VG ? 3 : 0.5;


# ------------------------------------------------------------------ helpers


# the module's backends: [pid, state, wait_event_type]
sub module_backends {
    my $out = psql(q{
        SELECT pid, coalesce(state, ''), coalesce(wait_event_type, '')
          FROM pg_stat_activity
         WHERE datname = current_database()
           AND backend_type = 'client backend'
           AND pid <> pg_backend_pid()
           AND application_name NOT LIKE 'fluentai-test-%'
           AND application_name <> 'psql'
           AND application_name <> 'fluentai-mail'  -- the mail sender's own
         ORDER BY pid});
    return map { [split /\|/, $_, -1] } grep { length } split /\n/, $out;
}

sub lock_waiters { scalar grep { $_->[2] eq 'Lock' } module_backends() }

# (FluentAI::Pg starts a cluster this suite left stopped; FluentAI::Hold
# ends a locker left running)

sub start {
    my (%o) = @_;
    return start_nginx(
        main_config => fluentai_main_config(),
        http_config => fluentai_http_config(
            ($o{database} ? (database => $o{database}) : ()),
            extra => $o{http} // ''),
        config => fluentai_locations()
                  . "    location = /status { stub_status; }\n");
}

# after a restart or a reload, the old workers' backends go away
sub settle_backends {
    my ($max) = @_;
    wait_until(sub { module_backends() <= $max }, 10 * $F, 0.05);
}


sub profile {
    my ($u) = @_;
    return api(GET => '/auth/profile',
               headers => { Authorization => "Bearer $u->{token}" });
}

sub profile_ok {
    my ($u, $name) = @_;
    my $r = profile($u);
    ok $r->{status} == 200 && ($r->{json}{email} // '') eq $u->{email},
        "$name: profile 200 with the user"
        or diag("$r->{status} $r->{body}");
    return $r;
}

# a 503 in the one error shape
sub is_unavailable {
    my ($r, $code, $name) = @_;
    my $j = $r->{json} // {};
    ok $r->{status} == 503
       && ($j->{code} // '') eq $code
       && ($j->{error} // '') eq 'service_unavailable'
       && ($j->{status_code} // 0) == 503
       && length($j->{message} // '')
       && ($r->{headers}{'content-type'} // $r->{content_type} // '')
          =~ m{^application/json},
       "$name: 503 $code (JSON error shape)"
        or diag(($r->{status} // 'no status') . ' ' . ($r->{body} // '')
                . ($r->{error} ? " ($r->{error})" : ''));
}

sub writing {
    my $r = api(GET => '/status');
    return $r->{body} =~ /Writing:\s*(\d+)/ ? $1 : -1;
}

# raw HTTP/1.1 with Connection: close, to keep requests in flight
sub raw_send { hold_send($_[0], $_[1]{token}) }
sub raw_read { hold_read(@_) }

sub log_count {
    my ($text, $re) = @_;
    return scalar grep { $_ =~ $re } split /\n/, $text;
}

sub pg_log_size { -s $PGLOG || 0 }
sub pg_log_since {
    my ($from) = @_;
    open my $fh, '<', $PGLOG or return undef;
    seek $fh, $from, 0;
    local $/;
    my $d = <$fh>;
    return $d // '';
}

# ------------------------------------------------- 1. queries, 4. kills

{
    start() or BAIL_OUT('nginx did not start');
    settle_backends(0);

    my $email = unique_email('pool-basic');
    my $r = api(POST => '/auth/register',
                json => { name => 'Pool Basic', email => $email,
                          password => 'correct horse battery' });
    is $r->{status}, 200, 'basic: register 200';
    ok $r->{json}{access_token}, 'basic: register returns an access token';

    $r = api(POST => '/auth/login',
             json => { email => $email, password => 'correct horse battery' });
    is $r->{status}, 200, 'basic: login 200';
    my $u = { email => $email, token => $r->{json}{access_token} };
    profile_ok($u, 'basic');

    $r = api(GET => '/health');
    is $r->{status}, 200, 'basic: /health 200';
    is_deeply $r->{json}, { status => 'healthy', database => 'connected' },
        'basic: /health body';
    like $r->{headers}{'content-type'} // '', qr{^application/json},
        'basic: /health is JSON';

    # 4. the server kills every backend of the module
    my @before = map { $_->[0] } module_backends();
    ok @before >= 1, 'kill: the module holds a database connection ('
                     . scalar(@before) . ')';
    my $killed = psql(q{
        SELECT count(*) FROM (
          SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = current_database()
             AND backend_type = 'client backend'
             AND pid <> pg_backend_pid()
             AND application_name NOT LIKE 'fluentai-test-%'
             AND application_name <> 'psql'
             AND application_name <> 'fluentai-mail') t});
    is $killed, scalar(@before), 'kill: terminated all module backends';
    wait_until(sub {
        my %b = map { $_->[0] => 1 } module_backends();
        !grep { $b{$_} } @before;
    }, 10, 0.05);

    profile_ok($u, 'kill: first request after pg_terminate_backend');
    profile_ok($u, 'kill: second request after pg_terminate_backend');
    my @after = map { $_->[0] } module_backends();
    my %old = map { $_ => 1 } @before;
    ok @after >= 1 && !grep({ $old{$_} } @after),
        'kill: the pool connected again (new backends only)'
        or diag("before @before, after @after");

    stop_nginx();
}

# ---------------------------------------------- 2. the pool size is a bound

{
    Test::Nginx::Util::workers(2);
    my $timeout = $VG ? 30 : 10;
    start(http => "    fluentai_database_pool size=2;\n"
                  . "    fluentai_database_timeout ${timeout}s;\n"
                  . "    fluentai_database_statement_timeout off;\n")
        or BAIL_OUT('nginx did not start');

    my $W = 1;
    unless ($VG) {
        my $m = $Test::Nginx::Util::Server{pid};
        my @w;
        wait_until(sub { @w = Test::Nginx::Util::_children_of($m); @w >= 2 },
                   10);
        $W = @w;
    }
    my $bound = $W * 2;
    settle_backends(0);

    my $u = new_user('pool-size');

    my $n = $VG ? 12 : 40;
    my $dir = tempdir(CLEANUP => 1);

    # with users locked every request and every new connection (which
    # prepares statements reading users) stays busy: the pool grows as far
    # as it ever will
    locker_start();
    my @kids;
    for my $i (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $r = profile($u);
            if (open my $fh, '>', "$dir/$i") {
                print $fh ($r->{status} // 0), ' ',
                          ($r->{json}{email} // ''), "\n";
                close $fh;
            }
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }

    my $in = wait_until(sub { writing() >= $n + 1 }, 20 * $F, 0.05);
    ok $in, "size: all $n requests are in nginx";
    wait_until(sub { module_backends() >= 2 }, 5 * $F, 0.05);
    my $max = 0;
    my $until = time + 0.5 * ($VG ? 4 : 1);
    while (time < $until) {
        my $c = () = module_backends();
        $max = $c if $c > $max;
        sleep 0.05;
    }
    ok $max >= 2 && $max <= $bound,
        "size: $W worker(s) x size=2: at most $bound backends under load "
        . "(saw $max)";

    locker_stop();
    waitpid($_, 0) for @kids;

    my %st;
    for my $i (1 .. $n) {
        my $l = '';
        if (open my $fh, '<', "$dir/$i") { $l = <$fh> // ''; }
        chomp $l;
        $st{ $l eq "200 $u->{email}" ? 'ok' : $l || 'none' }++;
    }
    is_deeply \%st, { ok => $n }, "size: all $n concurrent profiles 200";

    my $after = () = module_backends();
    ok $after >= 1 && $after <= $bound,
        "size: at most $bound backends afterwards ($after)";

    stop_nginx();
    Test::Nginx::Util::workers(1);
}

# ------------------------------ 3. outage and recovery, 10. its diagnostics

{
    start() or BAIL_OUT('nginx did not start');
    settle_backends(0);
    my $u = new_user('pool-outage');
    profile_ok($u, 'outage: before');

    my $mark = error_log_mark();
    ok pg_stop(), 'outage: PostgreSQL stopped';
    my $t_stop = time;

    my $t = time;
    my $r = api(GET => '/health');
    my $el = time - $t;
    is $r->{status}, 503, 'outage: /health 503';
    is_deeply $r->{json}, { status => 'unhealthy', database => 'unavailable' },
        'outage: /health body';
    ok $el < $QUICK, sprintf 'outage: /health answered at once (%.3f s, '
                             . 'timeout 5 s)', $el;

    $t = time;
    $r = profile($u);
    $el = time - $t;
    is_unavailable($r, 'database_unavailable', 'outage: profile');
    ok $el < $QUICK, sprintf 'outage: profile answered at once (%.3f s)', $el;

    # 10. a burst of requests during the outage
    my %st;
    for my $i (1 .. 50) {
        my $x = $i % 2 ? profile($u) : api(GET => '/health');
        $st{ $x->{status} == 503
             && ($i % 2 ? ($x->{json}{code} // '') eq 'database_unavailable'
                        : ($x->{json}{status} // '') eq 'unhealthy')
             ? 'ok' : "$x->{status} $x->{body}" }++;
    }
    my $span = time - $t_stop;
    is_deeply \%st, { ok => 50 }, 'outage: 50 more requests, all 503';

    my $log = error_log_since($mark);
    my $fails = log_count($log,
        qr/\[error\].*fluentai: database connection failed: \S/);
    ok $fails >= 1, 'outage: "[error] fluentai: database connection '
                    . 'failed: ..." logged'
        or diag($log);
    # at most one attempt per backoff period: 50, 100, 200, 400, 500 ms...
    my ($attempts, $sum, $b) = (1, 0, 50);
    while ($sum + $b <= $span * 1000) {
        $sum += $b;
        $attempts++;
        $b = $b * 2 > 500 ? 500 : $b * 2;
    }
    my $allowed = $attempts + 2;
    ok $fails <= $allowed && $fails < 25,
        sprintf 'outage: %d connection-failure lines for 52 requests in '
                . '%.2f s (backoff allows %d)', $fails, $span, $allowed;

    # recovery, without touching nginx
    ok pg_start(), 'outage: PostgreSQL started again';
    my $t_up = time;
    my $limit = $VG ? 5 : 1;
    my ($rec, $polls) = (undef, 0);
    while (time - $t_up < $limit + 5 * $F) {
        $polls++;
        my $x = api(GET => '/health');
        if ($x->{status} == 200) { $rec = $x; last }
        sleep 0.05;
    }
    my $took = time - $t_up;
    ok $rec && $took <= $limit,
        sprintf 'outage: /health 200 within %d s of the restart '
                . '(%.3f s, %d polls)%s', $limit, $took, $polls,
                $VG ? ' [valgrind: 1 s loosened]' : '';
    is_deeply $rec && $rec->{json}, { status => 'healthy',
                                      database => 'connected' },
        'outage: /health body after recovery';
    profile_ok($u, 'outage: after recovery');
    like error_log_since($mark), qr/fluentai: database connection restored/,
        'outage: "database connection restored" logged';

    stop_nginx();
}

# ------------------------------------------------------ 5. query timeout

{
    my $T = $VG ? 2 : 1;
    start(http => "    fluentai_database_pool size=2;\n"
                  . "    fluentai_database_timeout ${T}s;\n")
        or BAIL_OUT('nginx did not start');
    settle_backends(0);
    my $u = new_user('pool-timeout');
    profile_ok($u, 'timeout: before');

    locker_start();
    my $mark = error_log_mark();
    my $t = time;
    my $r = profile($u);
    my $el = time - $t;
    is_unavailable($r, 'database_unavailable', 'timeout: blocked profile');
    # the server's statement_timeout (80% of the module's) ends it first
    my $hi = $T + ($VG ? 3 : 0.6);
    ok $el >= 0.8 * $T - 0.05 && $el <= $hi,
        sprintf 'timeout: answered at the server\'s statement_timeout '
                . '(%.1f s) or the %d s timeout (%.3f s, at most %.1f s)%s',
                0.8 * $T, $T, $el, $hi,
                $VG ? ' [valgrind: timeout 2 s, bound loosened]' : '';
    like error_log_since($mark),
        qr/\[error\].*fluentai: (database query timed out after ${T}000 ms|statement "fluentai_profile" failed: ERROR:  canceling statement due to statement timeout)/,
        'timeout: "query timed out" or the statement timeout logged';

    locker_stop();
    # the backend whose client timed out ends once it has run its query
    wait_until(sub {
        my @b = module_backends();
        @b <= 2 && !grep { $_->[2] eq 'Lock'
                           || $_->[1] =~ /transaction/ } @b
    }, 10 * $F, 0.05);
    profile_ok($u, 'timeout: after the lock, 1');
    profile_ok($u, 'timeout: after the lock, 2');
    my @b = module_backends();
    ok @b >= 1 && @b <= 2, 'timeout: ' . scalar(@b)
                           . ' module backend(s), at most the pool size';
    ok !grep({ $_->[1] =~ /transaction/ || $_->[2] eq 'Lock' } @b),
        'timeout: no backend left idle in transaction or waiting'
        or diag(join ' ', map { "@$_" } @b);

    stop_nginx();
}

# ------------------------------------------- 6. the client leaves mid-query

{
    my $timeout = $VG ? 60 : 10;
    start(http => "    fluentai_database_pool size=1;\n"
                  . "    fluentai_database_timeout ${timeout}s;\n")
        or BAIL_OUT('nginx did not start');
    settle_backends(0);
    my $u = new_user('pool-gone');
    profile_ok($u, 'gone: before');
    my $mark = error_log_mark();

    locker_start();
    my $s = raw_send('/auth/profile', $u);
    ok wait_until(sub { lock_waiters() >= 1 }, 10 * $F, 0.05),
        'gone: the query waits on the lock';
    close $s;
    locker_stop();

    for my $i (1 .. 3) {
        profile_ok($u, "gone: after the orphaned query, $i");
    }
    # a connection closed by the pool may take a moment to leave the server
    wait_until(sub { module_backends() <= 1 }, 5 * $F, 0.05);
    my @b = module_backends();
    is scalar(@b), 1, 'gone: one module backend (size=1): no leak';
    unlike error_log_since($mark), qr/\[(?:alert|crit|emerg)\]/,
        'gone: no [alert] in the log';

    stop_nginx();
}

# ------------------------------------------------------ 7. the wait queue

{
    my $T = $VG ? 3 : 1;
    # the module's own timeout and queue, not the server's statement_timeout
    start(http => "    fluentai_database_pool size=1 queue=1;\n"
                  . "    fluentai_database_timeout ${T}s;\n"
                  . "    fluentai_database_statement_timeout off;\n")
        or BAIL_OUT('nginx did not start');
    settle_backends(0);
    my $u = new_user('pool-queue');
    profile_ok($u, 'queue: before');

    locker_start();
    my $sa = raw_send('/auth/profile', $u);
    ok wait_until(sub { lock_waiters() >= 1 }, 10 * $F, 0.05),
        'queue: request A holds the only connection';
    my $tb = time;
    my $bs = raw_send('/auth/profile', $u);
    # A, B and the status request itself
    ok wait_until(sub { writing() >= 3 }, 10 * $F, 0.02),
        'queue: request B is in nginx';

    my $t = time;
    my $c = profile($u);
    my $el = time - $t;
    is_unavailable($c, 'overloaded', 'queue: request C (queue full)');
    ok $el < $QUICK, sprintf 'queue: C answered at once (%.3f s)', $el;

    my $ra = raw_read($sa, 10 * $F);
    is_unavailable($ra, 'database_unavailable', 'queue: request A');
    my $rb = raw_read($bs, 10 * $F);
    my $elb = time - $tb;
    is_unavailable($rb, 'database_unavailable', 'queue: request B');
    my $hi = $T + ($VG ? 4 : 0.6);
    ok $elb >= $T - 0.05 && $elb <= $hi,
        sprintf 'queue: B waited the %d s timeout (%.3f s)', $T, $elb;

    locker_stop();
    profile_ok($u, 'queue: after the lock');

    stop_nginx();
}

# ------------------------- 7b. a client that leaves the queue frees its slot
#
# size=1 queue=1: A runs (waiting on the lock), B waits in the queue, B's
# client closes.  nginx must notice at once (as limit_req and upstream do):
# B leaves "Writing" and the queue, so C can wait in its place and is
# served when the lock goes, instead of a 503 "overloaded" for a slot held
# by nobody.

{
    my $timeout = $VG ? 60 : 10;
    start(http => "    fluentai_database_pool size=1 queue=1;\n"
                  . "    fluentai_database_timeout ${timeout}s;\n")
        or BAIL_OUT('nginx did not start');
    settle_backends(0);
    my $u = new_user('pool-leave');
    profile_ok($u, 'leave: before');
    my $mark = error_log_mark();

    locker_start();
    my $sa = raw_send('/auth/profile', $u);
    ok wait_until(sub { lock_waiters() >= 1 }, 10 * $F, 0.05),
        'leave: request A holds the only connection';
    my $sb = raw_send('/auth/profile', $u);
    ok wait_until(sub { writing() >= 3 }, 10 * $F, 0.02),
        'leave: request B waits in the queue';
    close $sb;
    ok wait_until(sub { writing() == 2 }, 2 * $F, 0.02),
        'leave: B\'s client closed: B is gone from "Writing" at once';

    my $sc = raw_send('/auth/profile', $u);
    ok wait_until(sub { writing() >= 3 }, 10 * $F, 0.02),
        'leave: request C is in nginx';
    locker_stop();
    my $rc = raw_read($sc, 10 * $F);
    is $rc->{status}, 200, 'leave: C took the freed queue slot and got 200'
        or diag explain $rc;
    my $ra = raw_read($sa, 10 * $F);
    is $ra->{status}, 200, 'leave: A got 200 once the lock went';
    profile_ok($u, 'leave: after');
    unlike error_log_since($mark), qr/\[(?:alert|crit|emerg)\]/,
        'leave: no [alert] in the log';

    stop_nginx();
}

# ------------------------------------- 8. fluentai_database_prepare off

{
    my $db = "$CONNINFO options='-c log_statement=all'";
    my $readable = defined pg_log_since(0);

    # the default first, to show what the server log tells apart
    start(database => $db) or BAIL_OUT('nginx did not start');
    settle_backends(0);
    my $pos = pg_log_size();
    my $u = new_user('pool-prepare-on');
    profile_ok($u, 'prepare on');
    stop_nginx();

    SKIP: {
        skip "$PGLOG is not readable", 1 unless $readable;
        like pg_log_since($pos), qr/execute fluentai_profile: SELECT/,
            'prepare on: the server ran the prepared fluentai_profile';
    }

    start(database => $db, http => "    fluentai_database_prepare off;\n")
        or BAIL_OUT('nginx did not start');
    settle_backends(0);
    $pos = pg_log_size();

    my $email = unique_email('pool-prepare-off');
    my $r = api(POST => '/auth/register',
                json => { name => 'No Prepare', email => $email,
                          password => 'correct horse battery' });
    is $r->{status}, 200, 'prepare off: register 200';
    $r = api(POST => '/auth/login',
             json => { email => $email, password => 'correct horse battery' });
    is $r->{status}, 200, 'prepare off: login 200';
    my $u2 = { email => $email, token => $r->{json}{access_token} };
    profile_ok($u2, 'prepare off');
    $r = api(GET => '/health');
    is $r->{status}, 200, 'prepare off: /health 200';
    is psql('SELECT count(*) FROM users WHERE email = $1', $email), 1,
        'prepare off: the user row exists';

    SKIP: {
        skip "$PGLOG is not readable", 2 unless $readable;
        my $pl = pg_log_since($pos);
        like $pl, qr/execute <unnamed>: SELECT u\.id, u\.email/,
            'prepare off: the profile query ran unnamed';
        unlike $pl, qr/execute fluentai_/,
            'prepare off: no prepared statement executed';
    }

    stop_nginx();
}

# ------------------------------------ 9. reload and stop with connections
#
# A graceful reload or stop lets the requests in flight finish: a query
# blocked by the locker when the signal comes is answered 200 once the
# locker goes (a helper process releases it when the old worker logs
# "gracefully shutting down").  Under valgrind nginx runs as one process
# without a master, where a reload is a restart and QUIT is not graceful:
# only the idle connections are checked there.

# start a query that waits on the lock; returns the client socket
sub inflight_start {
    my ($u, $name) = @_;
    locker_start();
    my $s = raw_send('/auth/profile', $u);
    ok wait_until(sub { lock_waiters() >= 1 }, 10 * $F, 0.05),
        "$name: a query is in flight";
    return $s;
}

# a helper that releases the lock once the worker shuts down gracefully
sub release_on_shutdown {
    my ($mark) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        wait_until(sub {
            error_log_since($mark) =~ /gracefully shutting down/
        }, 20, 0.02);
        eval {
            psql(q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE application_name = 'fluentai-test-locker'});
        };
        POSIX::_exit(0);
    }
    return $pid;
}

sub inflight_finish {
    my ($s, $helper, $u, $name) = @_;
    waitpid($helper, 0);
    my $r = raw_read($s, 10 * $F);
    ok(($r->{status} // 0) == 200 && ($r->{json}{email} // '') eq $u->{email},
       "$name: the request in flight was answered 200")
        or diag('got ' . ($r->{status} // 'no response (connection closed)')
                . ' ' . ($r->{body} // ''));
    locker_stop();
}

{
    my $timeout = $VG ? 60 : 10;
    my %cfg = (http => "    fluentai_database_timeout ${timeout}s;\n");
    start(%cfg) or BAIL_OUT('nginx did not start');
    settle_backends(0);
    my $u = new_user('pool-reload');
    profile_ok($u, 'reload: before');
    ok module_backends() >= 1, 'reload: database connections open';
    my $mark = error_log_mark();

    my ($s, $helper);
    unless ($VG) {
        $s = inflight_start($u, 'reload');
        $helper = release_on_shutdown($mark);
    }

    ok reload_nginx(main_config => fluentai_main_config(),
                    http_config => fluentai_http_config(extra => $cfg{http}),
                    config => fluentai_locations()
                              . "    location = /status { stub_status; }\n"),
        'reload: nginx reloaded' . ($VG ? ' [valgrind: restarted]' : '');
    $mark = 0 if $VG;    # restarted: a new error log

    inflight_finish($s, $helper, $u, 'reload') if $helper;

    for my $i (1 .. 3) {
        profile_ok($u, "reload: after the reload, $i");
    }
    my $r = api(GET => '/health');
    is $r->{status}, 200, 'reload: /health 200';
    ok module_backends() >= 1, 'reload: database connections open again';

    my $mark2 = error_log_mark();
    unless ($VG) {
        $s = inflight_start($u, 'stop');
        $helper = release_on_shutdown($mark2);
    }
    stop_nginx();
    inflight_finish($s, $helper, $u, 'stop') unless $VG;

    unlike error_log_since($mark), qr/open socket #\d+ left in connection/,
        'reload and stop: no "open socket ... left in connection"';
}

# PostgreSQL is up and healthy for the suites after this one
is psql('SELECT 1'), 1, 'PostgreSQL is running at the end';

done_testing();
