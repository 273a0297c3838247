#!/usr/bin/perl
# Reloads and a killed worker under load (scenario style).
#
#   t/run-suites t/reload.t
#
# 2 workers, a pool of 4 connections each; 4 forked client processes
# (FluentAI::Load in t/lib, so every request's fate is known):
#   - 2 "keep-alive" clients: GET /auth/profile and GET /health on
#     persistent connections;
#   - 2 "close" clients: POST /auth/login, GET /auth/profile and POST
#     /auth/register, each on a new connection (Connection: close).
#
# What counts as a failed request (documented decision):
#   - any HTTP answer other than 2xx: must be zero;
#   - any transport error (refused, reset, timeout, EOF inside an answer)
#     on a NEW connection: must be zero;
#   - on a REUSED keep-alive connection, EOF or reset before the first byte
#     of the answer is the keep-alive close race every HTTP client knows:
#     a gracefully exiting worker closes its idle keep-alive connections,
#     and a request the client wrote at that instant meets the close.
#     RFC 9112 (9.3.1) lets clients retry such an idempotent request on a
#     new connection, and so do browsers and HTTP libraries; the keep-alive
#     clients here send only GETs and retry them once.  Such races are
#     counted and reported and must be few (at most one per keep-alive
#     client per reload); the retried request must then succeed.  (wrk has
#     no such retry and would report these as "Socket errors: read".)
#
# Phase 1: three SIGHUPs (the master pid from logs/nginx.pid) during the
#   load.  Asserted: zero failed requests; each reload brings new worker
#   pids and the old workers exit (their idle database connections are
#   closed: no worker hangs in "shutting down"); the master stays; no
#   "exited on signal", no [alert] such as "open socket left"; module
#   backends in pg_stat_activity <= workers x pool size afterwards.
# Phase 2: kill -9 of one worker during the load.  Asserted: the master
#   logs "worker process <pid> exited on signal 9" for that pid only and
#   starts a new worker (a new pid) which serves requests (access log with
#   $pid); requests that started after the kill all succeed; requests in
#   flight on the killed worker may fail at the transport level only
#   (counted and reported), never with an HTTP error.
#
# Skipped under TEST_NGINX_USE_VALGRIND: valgrind runs nginx without a
# master process (master_process off), so there is nothing to reload or
# respawn, and a load run under valgrind would only measure valgrind.

use strict;
use warnings;

use Test::More;
use FluentAI::Test;
use FluentAI::Load;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

plan skip_all => 'under valgrind nginx runs without a master process '
    . '(nothing to reload or respawn) and ~50x slower (a load run would '
    . 'measure valgrind)'
    if $Test::Nginx::Util::UseValgrind;

my $WORKERS = 2;
my $POOL = 4;
my $APP = 'fluentai-reload';
my $RELOADS = 3;

Test::Nginx::Util::workers($WORKERS);
Test::Nginx::Util::log_level('notice');

my $servroot = Test::Nginx::Util::servroot();
my $PIDLOG = "$servroot/logs/pid.log";

# $slow: argon2id slow enough (~0.6 s idle, more on a busy machine) that
# a reload lands while a hash runs
sub conf {
    my ($slow) = @_;
    return (
        main_config => fluentai_main_config(threads => 2),
        http_config => fluentai_http_config(
            database => "$ENV{TEST_NGINX_PG_CONNINFO} application_name=$APP",
            ($slow ? (password_hash => 'm=65536 t=6 p=1') : ()),
            extra    => "    fluentai_database_pool size=$POOL;\n"
                      . "    log_format pidlog '\$pid \$status "
                      . "\$request_method \$uri';\n"
                      . "    access_log logs/pid.log pidlog;\n"),
        config => fluentai_locations(),
    );
}

start_nginx(conf(1)) or BAIL_OUT('nginx did not start');

sub master_pid { Test::Nginx::Util::_read_pidfile() }
sub worker_pids {
    my $m = master_pid() or return ();
    return Test::Nginx::Util::_children_of($m);
}
sub alive { Test::Nginx::Util::_pid_alive($_[0]) }

my $MASTER = master_pid();
ok $MASTER && alive($MASTER), 'master runs';

my $PORT = server_port();

sub send_raw {
    my ($raw) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $PORT,
                                  Proto => 'tcp', Timeout => 10)
        or return undef;
    binmode $s;
    print $s $raw;
    return $s;
}

sub read_answer {
    my ($s, $timeout) = @_;
    my ($buf, $sel) = ('', IO::Select->new($s));
    my $deadline = time + $timeout;
    while (time < $deadline && $sel->can_read($deadline - time)) {
        my $n = sysread $s, $buf, 65536, length $buf;
        last unless $n;
    }
    close $s;
    my ($status) = $buf =~ m{^HTTP/1\.[01] (\d{3})};
    my $i = index($buf, "\r\n\r\n");
    return { status => $status // 0,
             json => $i >= 0 ? json_decode(substr($buf, $i + 4)) : undef,
             raw => $buf };
}

# ------------------------------------------------------------- phase 0
# deterministic: a reload while a request is in the middle of its work

{
    # a password hash on the thread pool (~0.6 s with m=65536 t=6 when
    # the machine is idle)
    my $mark = error_log_mark();
    my $e = unique_email('reload-hashing');
    my $body = json_encode({ name => 'Hashing', email => $e,
                             password => 'hashing password' });
    my $s = send_raw("POST /auth/register HTTP/1.1\r\nHost: x\r\n"
                     . "Connection: close\r\nContent-Type: application/json"
                     . "\r\nContent-Length: " . length($body) . "\r\n\r\n"
                     . $body);
    sleep 0.15;                         # the hash is running now
    my $t0 = time;
    # a child reads the answer (and closes the connection at once, or the
    # old worker would linger on it): reload_nginx waits for the old
    # workers to exit
    my $dir = tempdir(CLEANUP => 1);
    my $reader = fork;
    die "fork: $!" unless defined $reader;
    if ($reader == 0) {
        my $a = $s ? read_answer($s, 20) : { status => 0, raw => '' };
        if (open my $fh, '>', "$dir/answer") {
            print $fh json_encode({ status => $a->{status}, raw => $a->{raw},
                                    t => time });
            close $fh;
        }
        POSIX::_exit(0);
    }
    close $s if $s;
    my $ok = reload_nginx(conf(0));     # SIGHUP, cheap hashing from now on
    waitpid $reader, 0;
    my $a = json_decode(Test::Nginx::Util::read_file_text("$dir/answer"))
            // { status => 0, raw => '', t => time };
    ok $ok, 'reload while a password hash runs';
    is $a->{status}, 200, 'the request whose hash was running when the '
        . 'reload came is answered 200 by the old worker'
        or diag "got: " . substr($a->{raw} // '', 0, 200);
    is psql('SELECT count(*) FROM users WHERE email = $1', $e), 1,
        'its user exists';
    my @fatal = Test::Nginx::Util::fatal_log_lines(error_log_since($mark));
    is scalar(@fatal), 0, 'no [alert] ("open socket left in connection", '
        . '"aborting") from the old worker' or diag join "\n", @fatal;
    note sprintf 'reload during hashing: answer after %.2f s', $a->{t} - $t0;
}

{
    # a query that waits for a lock in PostgreSQL
    my $e = unique_email('reload-locked');
    my $r = api(POST => '/auth/register',
                json => { name => 'Locked', email => $e,
                          password => 'locked password' });
    my $tok = $r->{json}{access_token} // '';
    my $mark = error_log_mark();
    my $locker = fork;
    die "fork: $!" unless defined $locker;
    if ($locker == 0) {
        open STDOUT, '>', '/dev/null';
        my @cmd = ('psql', '-X', '-q', '-d', $ENV{TEST_NGINX_PG_CONNINFO},
                   '-c', 'BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; '
                         . 'SELECT pg_sleep(1.5); COMMIT;');
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    sleep 0.3;
    my $s = send_raw("GET /auth/profile HTTP/1.1\r\nHost: x\r\n"
                     . "Connection: close\r\nAuthorization: Bearer $tok"
                     . "\r\n\r\n");
    sleep 0.3;                          # the query waits for the lock
    my @old = worker_pids();
    kill 'HUP', $MASTER;
    my $a = $s ? read_answer($s, 20) : { status => 0 };
    waitpid $locker, 0;
    is $a->{status}, 200, 'a request whose query waited on a lock when the '
        . 'reload came is answered 200'
        or diag "got: " . substr($a->{raw} // '', 0, 200);
    is $a->{json} && $a->{json}{email}, $e, '... with its body';
    wait_for(sub { !grep { alive($_) } @old }, 15);
    my @fatal = Test::Nginx::Util::fatal_log_lines(error_log_since($mark));
    is scalar(@fatal), 0, 'no [alert] from the old worker'
        or diag join "\n", @fatal;
}

my $email = unique_email('reload');
my $password = 'reload password';
my $reg = api(POST => '/auth/register',
              json => { name => 'Reload', email => $email,
                        password => $password });
is $reg->{status}, 200, 'setup: register';
my $ACCESS = $reg->{json}{access_token} // '';

# ------------------------------------------------------------- load generator

# FluentAI::Load (t/lib); "close": a request on a connection of its own
sub request {
    my ($method, $path, $body, %o) = @_;
    my $raw = build_request($method, $path, $body, $o{auth}, $PORT);
    $raw =~ s{\r\n}{\r\nConnection: close\r\n} if $o{close};
    return $raw;
}

my $RUN = "$$-" . int(time);
my $NEXT = sub {
    my ($c, $i, $tag) = @_;
    if ($c < 2) {                      # keep-alive clients: GETs only
        return $i % 2
            ? { kind => 'health', idempotent => 1,
                raw => request(GET => '/health') }
            : { kind => 'profile', idempotent => 1,
                raw => request(GET => '/auth/profile', undef,
                               auth => $ACCESS) };
    }
    my $n = ($c + $i) % 3;
    return { kind => 'profile',
             raw => request(GET => '/auth/profile', undef,
                            auth => $ACCESS, close => 1) } if $n == 0;
    return { kind => 'login',
             raw => request(POST => '/auth/login',
                            json_encode({ email => $email,
                                          password => $password }),
                            close => 1) } if $n == 1;
    return { kind => 'register',
             raw => request(POST => '/auth/register',
                            json_encode({ name => 'Load',
                                          email => "reload-$RUN-$tag-c$c-$i"
                                                   . '@example.com',
                                          password => 'load password' }),
                            close => 1) };
};

sub wait_for {
    my ($cond, $timeout) = @_;
    my $deadline = time + $timeout;
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.02;
    }
    return $cond->() ? 1 : 0;
}

# ------------------------------------------------------------- phase 1: reloads

{
    my $mark = error_log_mark();
    my @initial = worker_pids();
    is scalar(@initial), $WORKERS, "$WORKERS workers at start";
    my (@old_all, @new_seen);
    my $load = load_start(clients => 4, max_seconds => 40,
                          next => sub { $NEXT->(@_[0, 1], 'reloads') });
    sleep 0.7;
    my $reloaded = 0;
    for my $n (1 .. $RELOADS) {
        my @before = worker_pids();
        my %before = map { $_ => 1 } @before;
        push @old_all, @before;
        kill 'HUP', $MASTER or last;
        my @new;
        wait_for(sub {
            @new = grep { !$before{$_} } worker_pids();
            @new >= $WORKERS;
        }, 10) and $reloaded++;
        push @new_seen, @new;
        sleep 0.7;
    }
    my %current = map { $_ => 1 } worker_pids();
    my @old = grep { !$current{$_} } @old_all;
    my $old_gone = wait_for(sub { !grep { alive($_) } @old }, 15);
    sleep 0.5;
    my @recs = load_stop($load);

    is $reloaded, $RELOADS, "$RELOADS reloads, each brought $WORKERS new "
        . 'workers';
    ok $old_gone, 'the old workers exited (no connection kept them)'
        or diag 'still alive: ' . join ' ', grep { alive($_) } @old;
    is master_pid(), $MASTER, 'the master is the same';
    my @w = worker_pids();
    is scalar(@w), $WORKERS, "$WORKERS workers after the reloads";

    my @http_bad = grep { !$_->{err} && $_->{st} !~ /^2/ } @recs;
    my @transport = grep { $_->{err} } @recs;
    my @races = grep { $_->{race} } @recs;
    note sprintf 'reloads: %d requests (%d keep-alive, %d new-connection), '
        . '%s; keep-alive close races retried: %d (%s)', scalar(@recs),
        scalar(grep { $_->{c} < 2 } @recs), scalar(grep { $_->{c} >= 2 } @recs),
        summary(@recs), scalar(@races),
        join(', ', map { $_->{race} } @races) || '-';
    ok @recs > 100, 'the load ran (' . scalar(@recs) . ' requests)';
    is scalar(@http_bad), 0, 'reloads: zero non-2xx answers'
        or diag summary(@http_bad);
    is scalar(@transport), 0, 'reloads: zero failed requests at the '
        . 'transport level (after the keep-alive retry rule)'
        or diag summary(@transport);
    # a client that reconnects right after a race may still be accepted by
    # an old worker that has not got its QUIT yet: two per reload at most
    cmp_ok scalar(@races), '<=', 2 * 2 * $RELOADS,
        'keep-alive close races: at most two per keep-alive client per '
        . 'reload';
    my $log = error_log_since($mark);
    unlike $log, qr/exited on signal/, 'reloads: no worker crashed';
    my @fatal = Test::Nginx::Util::fatal_log_lines($log);
    is scalar(@fatal), 0, 'reloads: no [alert]/[crit]/[emerg] (e.g. "open '
        . 'socket left in connection")' or diag join "\n", @fatal;
    my $b = psql('SELECT count(*) FROM pg_stat_activity '
                 . 'WHERE application_name = $1', $APP);
    note "module backends after the reloads: $b";
    cmp_ok $b, '<=', $WORKERS * $POOL,
        "module backends <= workers x pool size ($WORKERS x $POOL)";
}

# ------------------------------------------------------------- phase 2: kill -9

{
    my $mark = error_log_mark();
    my @before = worker_pids();
    my %before = map { $_ => 1 } @before;
    my $victim = $before[0];
    my $load = load_start(clients => 4, max_seconds => 30,
                          next => sub { $NEXT->(@_[0, 1], 'kill') });
    sleep 0.7;
    my $t_kill = time;
    kill 'KILL', $victim;
    my @new;
    my $respawned = wait_for(sub {
        my @w = worker_pids();
        @new = grep { !$before{$_} } @w;
        @new >= 1 && @w == $WORKERS && !alive($victim);
    }, 10);
    my $t_respawn = time;
    sleep 1.0;
    my @recs = load_stop($load);

    ok $respawned, 'kill -9: the master started a new worker';
    note sprintf 'killed worker %d; new worker %s appeared within %.3f s',
        $victim, join(',', @new), $t_respawn - $t_kill;
    ok !alive($victim), 'the killed worker is gone';
    is master_pid(), $MASTER, 'the master is the same';

    my $log = error_log_since($mark);
    like $log, qr/worker process $victim exited on signal 9/,
        'the master logged the killed worker';
    my @crashes = $log =~ /worker process (\d+) exited on signal (\d+)/g;
    is_deeply \@crashes, [$victim, 9], 'no other worker died';

    my @inflight = grep { $_->{t0} < $t_kill + 0.05 && $_->{t1} >= $t_kill }
                   @recs;
    my @afterwards = grep { $_->{t0} >= $t_kill + 0.05 } @recs;
    my @races = grep { $_->{race} } @recs;
    note sprintf 'kill -9: %d requests; %d in flight at the kill (%s); %d '
        . 'started afterwards (%s); keep-alive races retried: %d',
        scalar(@recs), scalar(@inflight), summary(@inflight),
        scalar(@afterwards), summary(@afterwards), scalar(@races);
    is scalar(grep { !$_->{err} && $_->{st} !~ /^2/ } @recs), 0,
        'kill -9: zero non-2xx answers';
    ok @afterwards > 50, 'requests went on after the kill ('
        . scalar(@afterwards) . ')';
    is scalar(grep { $_->{err} || $_->{st} !~ /^2/ } @afterwards), 0,
        'every request started after the kill succeeded'
        or diag summary(grep { $_->{err} || $_->{st} !~ /^2/ } @afterwards);
    cmp_ok scalar(grep { $_->{err} } @recs), '<=', 4,
        'transport failures only for requests in flight at the kill '
        . '(at most one per client)';

    my %served;
    for my $l (split /\n/, Test::Nginx::Util::read_file_text($PIDLOG)) {
        $served{$1}++ if $l =~ /^(\d+) 200 /;
    }
    ok +(grep { $served{$_} } @new), 'the new worker served requests ('
        . join(', ', map { "$_: " . ($served{$_} // 0) } @new) . ')';
}

is api(GET => '/auth/profile', headers => { Authorization => "Bearer $ACCESS" })
   ->{status}, 200, 'profile 200 at the end';
stop_nginx(allow => qr/worker process \d+ exited on signal 9/);

done_testing;
