#!/usr/bin/perl
# Coalesced session lookups (src/ngx_http_fluentai_pg_batch.c): profile
# requests and "fluentai_auth_jwt session" checks that wait for the one
# database connection (fluentai_database_pool size=1) are served by one
# statement when it comes free, each with its own answer: its own user,
# 401 for a session that is not live, the JSON 503 when the database goes
# away; a lookup that finds the connection free goes out alone at once.
#
#   t/run-suites t/coalesce.t
#
# Requests are held on purpose (t/lib/FluentAI/Hold.pm): a psql session
# locks the users table, the first request's statement waits for it on
# the only connection, the next ones wait in the pool's queue (the
# module's fluentai_db_waiting_requests says when they all do), then the
# lock goes.  The batches are read from fluentai_db_batch_size.
#
# This suite stops and starts the shared test PostgreSQL cluster once
# (the outage); FluentAI::Pg starts it again whatever happens.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time);

use FluentAI::Test qw(:DEFAULT new_user wait_until);
use FluentAI::Pg qw(pg_stop pg_start);
use FluentAI::Hold;

for my $v (qw(TEST_NGINX_PG_CONNINFO TEST_NGINX_PG_CTL TEST_NGINX_PG_PGDATA))
{
    plan skip_all => "$v is not set (run via t/run-suites)" unless $ENV{$v};
}

my $VG = $Test::Nginx::Util::UseValgrind ? 1 : 0;
my $F = Test::Nginx::Util::timeout_factor();
my $WAIT = $VG ? 60 : 15;               # fluentai_database_timeout
my $QUICK = $VG ? 3 : 0.5;              # an answer that waited for nothing
my $BACKEND = server_port() + 1;

# ------------------------------------------------------------------ helpers

sub start {
    my ($extra, $size) = @_;
    $size //= 1;
    return start_nginx(
        main_config => fluentai_main_config(),
        http_config => fluentai_http_config(extra => <<"_EOC_"
    fluentai_database_pool size=$size;
    fluentai_database_timeout ${WAIT}s;
    fluentai_database_statement_timeout off;
$extra
    server {
        listen 127.0.0.1:$BACKEND;
        location / { return 200 "user=\$http_x_user_id\\n"; }
    }
_EOC_
        ),
        config => fluentai_locations() . <<"_EOC_");
    location /gated/ {
        fluentai_auth_jwt session;
        proxy_set_header X-User-Id \$fluentai_user_id;
        proxy_pass http://127.0.0.1:$BACKEND;
    }
_EOC_
}

sub scrape {
    my $r = api(GET => '/metrics');
    my %m;
    for my $line (split /\n/, $r->{body} // '') {
        next if $line =~ /^#/;
        $m{$1} = $2 if $line =~ /^(\S+(?:\{[^}]*\})?) (\S+)$/;
    }
    return \%m;
}

# the batch-size histogram of one lookup statement, from two scrapes:
# { count, sum, le => { 1 => n, 2 => n, ... } } of what happened between
sub batches {
    my ($m0, $m1, $st) = @_;
    my $k = sub { "fluentai_db_batch_size_$_[0]\{statement=\"$st\"$_[1]}" };
    my %d = map {
        my $n = $k->('bucket', ",le=\"$_\"");
        ($_ => ($m1->{$n} // 0) - ($m0->{$n} // 0))
    } qw(1 2 4 8 16 32 +Inf);
    return {
        count => ($m1->{ $k->('count', '') } // 0)
                 - ($m0->{ $k->('count', '') } // 0),
        sum => ($m1->{ $k->('sum', '') } // 0)
               - ($m0->{ $k->('sum', '') } // 0),
        le => \%d,
        present => exists $m1->{ $k->('count', '') } ? 1 : 0,
    };
}

# waiting for a connection, or held for a batch (inflight=)
sub waiting {
    my $m = scrape();
    return ($m->{fluentai_db_waiting_requests} // -1)
           + ($m->{fluentai_db_coalescing_lookups} // -1);
}

sub wait_waiting {
    my ($n, $what) = @_;
    ok wait_until(sub { waiting() == $n }, 20 * $F, 0.05),
        "$what: $n requests wait for the connection"
        or diag('waiting: ' . waiting());
}

sub wait_lock {
    my ($what) = @_;
    ok wait_until(sub { lock_waiters() == 1 }, 20 * $F, 0.05),
        "$what: a statement waits for the lock";
}

sub owns {
    my ($r, $u, $what) = @_;
    my $j = $r->{json} // {};
    ok +($r->{status} // 0) == 200 && ($j->{id} // '') eq $u->{id}
        && ($j->{email} // '') eq $u->{email}
        && ($j->{name} // '') eq $u->{name},
        "$what: 200 with its own user ($u->{email})"
        or diag(($r->{status} // $r->{error} // '?') . ' '
                . ($r->{body} // ''));
}

sub refused {
    my ($r, $status, $code, $what) = @_;
    my $j = $r->{json} // {};
    ok +($r->{status} // 0) == $status && ($j->{code} // '') eq $code
        && ($j->{status_code} // 0) == $status
        && ($r->{content_type} // '') =~ m{^application/json},
        "$what: $status $code (JSON)"
        or diag(($r->{status} // $r->{error} // '?') . ' '
                . ($r->{body} // ''));
}

sub profile_send { hold_send('/auth/profile', $_[0]{token}) }

# the first user's lookup runs into the table lock; then the others' are
# sent behind it.  Returns the sockets, the first user's first.
sub lookups_behind_lock {
    my ($what, $first_user, @users) = @_;
    locker_start();
    my $first = profile_send($first_user);
    wait_lock($what);
    return ($first, map { profile_send($_) } @users);
}

# ------------------------------------------------------------------ setup

start('') or BAIL_OUT('nginx did not start');

my @U = map { new_user("coal$_", name => "Coal User $_") } 0 .. 23;

# a logged-out session and a deactivated user among the batch-mates
my $r = api(POST => '/auth/logout',
            headers => { Authorization => "Bearer $U[5]{token}" });
is $r->{status}, 200, 'setup: user 5 logged out';
psql('UPDATE users SET is_active = false WHERE id = $1', $U[6]{id});

# --------------------------------------- 1. a single lookup goes out alone

{
    my $m0 = scrape();
    my $t0 = time;
    my $p = api(GET => '/auth/profile',
                headers => { Authorization => "Bearer $U[0]{token}" });
    my $dt = time - $t0;
    is $p->{status}, 200, 'alone: profile 200';
    is $p->{json}{email}, $U[0]{email}, 'alone: its own user';
    cmp_ok $dt, '<', $QUICK, 'alone: answered at once (no batch timer)';
    my $b = batches($m0, scrape(), 'fluentai_profile');
    ok $b->{present}, 'alone: fluentai_db_batch_size is in the metrics';
    is_deeply [$b->{count}, $b->{sum}, $b->{le}{1}], [1, 1, 1],
        'alone: one statement for one lookup (batch size 1)';
}

# ---------------------- 2. a burst: one statement, each gets its own answer

{
    my $m0 = scrape();
    # 1..15, user 7 twice (the same session twice in a batch), 5 logged
    # out, 6 deactivated: 16 lookups
    my @who = (1 .. 15, 7);
    my ($first, @socks) = lookups_behind_lock('burst', $U[0], @U[@who]);
    wait_waiting(scalar @who, 'burst');
    locker_stop();

    owns(hold_read($first, 10 * $F), $U[0], 'burst: the first (alone)');
    for my $i (0 .. $#who) {
        my $u = $U[$who[$i]];
        my $res = hold_read($socks[$i], 10 * $F);
        if ($who[$i] == 5 || $who[$i] == 6) {
            refused($res, 401, 'invalid_token',
                    "burst: user $who[$i] (session not live)");
        } else {
            owns($res, $u, "burst: user $who[$i]");
        }
    }

    my $b = batches($m0, scrape(), 'fluentai_profile');
    is $b->{count}, 2, 'burst: two statements for 17 lookups';
    is $b->{sum}, 17, 'burst: they served 17 lookups';
    is $b->{le}{1}, 1, 'burst: the first went alone';
    is $b->{le}{16} - $b->{le}{8}, 1, 'burst: one batch of 9..16';
    my $st = batches($m0, scrape(), 'fluentai_gate');
    is $st->{count}, 0, 'burst: no gate statement';
}

# ------------------------------------------- 3. the gate's session check

{
    my $m0 = scrape();
    locker_start();
    my $first = hold_send('/gated/x', $U[0]{token});
    wait_lock('gate');
    my @who = (8 .. 12, 5);
    my @socks = map { hold_send('/gated/x', $U[$_]{token}) } @who;
    wait_waiting(scalar @who, 'gate');
    locker_stop();

    my $res = hold_read($first, 10 * $F);
    is "$res->{status} " . ($res->{body} // ''), "200 user=$U[0]{id}\n",
        'gate: the first passes with its user';
    for my $i (0 .. $#who) {
        $res = hold_read($socks[$i], 10 * $F);
        if ($who[$i] == 5) {
            refused($res, 401, 'invalid_token', 'gate: logged-out session');
            next;
        }
        is "$res->{status} " . ($res->{body} // ''),
            "200 user=$U[$who[$i]]{id}\n", "gate: user $who[$i] passes";
    }
    my $b = batches($m0, scrape(), 'fluentai_gate');
    is_deeply [$b->{count}, $b->{sum}, $b->{le}{1}, $b->{le}{8}],
        [2, 7, 1, 2], 'gate: the first alone, then one batch of 6';
}

# ----------------------- 4. clients that go away, in the queue and a batch

{
    my $m0 = scrape();
    my @who = (13 .. 18);
    my ($first, @socks) = lookups_behind_lock('gone', $U[0], @U[@who]);
    wait_waiting(6, 'gone');

    # user 14 leaves the queue before any batch
    close $socks[1];
    wait_waiting(5, 'gone: one left the queue');

    # the first statement is cancelled (503); the 5 left go as one batch
    lock_cancel();
    refused(hold_read($first, 10 * $F), 503, 'database_unavailable',
            'gone: the cancelled statement');
    wait_lock('gone: the batch');

    # user 15 leaves the batch while it runs
    close $socks[2];
    ok wait_until(sub {
        my $m = scrape();
        ($m->{'fluentai_http_requests_total{endpoint="profile",'
              . 'status="499"}'} // 0)
        - ($m0->{'fluentai_http_requests_total{endpoint="profile",'
                 . 'status="499"}'} // 0) == 2
    }, 20 * $F, 0.05), 'gone: both ended (499)';
    locker_stop();

    for my $i (0, 3, 4, 5) {
        owns(hold_read($socks[$i], 10 * $F), $U[$who[$i]],
             "gone: user $who[$i], a batch-mate of one that left");
    }
    my $b = batches($m0, scrape(), 'fluentai_profile');
    is_deeply [$b->{count}, $b->{sum}], [2, 6],
        'gone: the first alone, then one batch of 5';
    owns(api(GET => '/auth/profile',
             headers => { Authorization => "Bearer $U[14]{token}" }),
         $U[14], 'gone: the pool serves the next request');
}

# --------------------------------- 5. an outage while a batch is running

{
    my $m0 = scrape();
    my @who = (19 .. 23);
    my ($first, @socks) = lookups_behind_lock('outage', $U[0], @U[@who]);
    wait_waiting(5, 'outage');
    lock_cancel();
    hold_read($first, 10 * $F);
    wait_lock('outage: the batch');
    my $b = batches($m0, scrape(), 'fluentai_profile');
    is $b->{le}{8} - $b->{le}{4}, 1, 'outage: a batch of 5 runs';

    pg_stop('immediate');
    locker_stop();
    for my $i (0 .. $#who) {
        refused(hold_read($socks[$i], $WAIT + 10 * $F), 503,
                'database_unavailable', "outage: batch-mate user $who[$i]");
    }
    pg_start();
    ok wait_until(sub {
        api(GET => '/auth/profile',
            headers => { Authorization => "Bearer $U[19]{token}" })
        ->{status} == 200
    }, 20 * $F, 0.1), 'outage: profile 200 again after the restart';
}

stop_nginx();

# ------------------------------ 6. the cap, and coalescing switched off

for my $case (['fluentai_database_coalesce 4;', [4, 11, 1], 'cap 4'],
              ['fluentai_database_coalesce off;', [11, 11, 11], 'off'])
{
    my ($conf, $want, $name) = @$case;
    start($conf) or BAIL_OUT("nginx did not start ($name)");

    # the connection is there (prepared) before the lock
    api(GET => '/auth/profile',
        headers => { Authorization => "Bearer $U[0]{token}" });
    my $m0 = scrape();
    my @who = (7 .. 16);
    my ($first, @socks) = lookups_behind_lock($name, $U[0], @U[@who]);
    wait_waiting(10, $name);
    locker_stop();
    hold_read($first, 10 * $F);
    my @ok = grep { my $r = hold_read($socks[$_], 10 * $F);
                    ($r->{json}{id} // '') eq $U[$who[$_]]{id} } 0 .. 9;
    is scalar @ok, 10, "$name: each of the 10 got its own user";
    my $b = batches($m0, scrape(), 'fluentai_profile');
    is_deeply [$b->{count}, $b->{sum}, $b->{le}{1}], $want,
        "$name: statements, lookups, alone";
    stop_nginx();
}

# ------- 7. at most "inflight" lookups of a kind run, beside idle connections

sub idle_conns {
    scrape()->{'fluentai_db_connections{state="idle"}'} // -1
}

for my $case (['', 1, [2, 6, 1], 'inflight=1 (default)'],
              ['fluentai_database_coalesce 32 inflight=2;', 2, [3, 6, 2],
               'inflight=2'],
              ['fluentai_database_coalesce 32 inflight=0;', 4, [5, 6, 4],
               'inflight=0'])
{
    my ($conf, $running, $want, $name) = @$case;
    start($conf, 4) or BAIL_OUT("nginx did not start ($name)");

    # four connections, opened by four updates of one user waiting for
    # its row (a lock that lets their PREPAREs through)
    locker_start($U[1]{id});
    my @upd = map {
        hold_send('/user/profile', $U[1]{token}, 'PUT',
                  qq{{"bio":"inflight $_"}})
    } 1 .. 4;
    ok wait_until(sub { row_waiters() == 4 }, 20 * $F, 0.05),
        "$name: four updates run on four connections"
        or diag(psql(q{SELECT string_agg(concat_ws(' ', pid, backend_type,
                         application_name, state, wait_event_type,
                         wait_event, left(query, 60)), E'\n')
                       FROM pg_stat_activity}));
    locker_stop();
    my @st = map {
        my $r = hold_read($_, 10 * $F);
        $r->{status} // $r->{error} // '?'
    } @upd;
    is "@st", '200 200 200 200', "$name: the four updates answered 200";
    ok wait_until(sub { idle_conns() == 4 }, 10 * $F, 0.05),
        "$name: four idle connections";

    my $m0 = scrape();
    my @who = (7 .. 11);
    my ($first, @socks) = lookups_behind_lock($name, $U[0], @U[@who]);
    # six lookups: $running run, the others are held for a batch while a
    # connection is idle, or (inflight=0, all 4 busy) wait for one
    my $queued = 6 - $running;
    my ($held, $waiting) = $running < 4 ? ($queued, 0) : (0, $queued);
    wait_waiting($queued, $name);
    is lock_waiters(), $running,
        "$name: $running lookup statement(s) run, the rest wait";
    is idle_conns(), 4 - $running,
        "$name: beside " . (4 - $running) . ' idle connection(s)';
    my $m = scrape();
    is_deeply [$m->{fluentai_db_waiting_requests},
               $m->{fluentai_db_coalescing_lookups}], [$waiting, $held],
        "$name: metrics: $held held for a batch, $waiting waiting for a "
        . 'connection';

    if ($running < 4) {
        my $t0 = time;
        my $h = api(GET => '/health');
        ok +($h->{status} // 0) == 200 && time - $t0 < 5 * $F,
            "$name: another statement is not held behind them";
    }

    locker_stop();
    owns(hold_read($first, 10 * $F), $U[0], "$name: the first");
    for my $i (0 .. $#who) {
        owns(hold_read($socks[$i], 10 * $F), $U[$who[$i]],
             "$name: user $who[$i]");
    }
    my $b = batches($m0, scrape(), 'fluentai_profile');
    is_deeply [$b->{count}, $b->{sum}, $b->{le}{1}], $want,
        "$name: statements, lookups, alone";
    stop_nginx();
}

done_testing();
