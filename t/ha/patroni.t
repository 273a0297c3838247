#!/usr/bin/perl
# Failover on a real Patroni cluster (`make test-ha`; issue 17, point 2).
#
#   t/run-suites t/ha/patroni.t        (make test-ha runs exactly this)
#
# FluentAI::Patroni starts one etcd and two PostgreSQL 15 members under
# Patroni (synchronous_mode: a commit waits for the standby) on loopback
# ports, in a temp dir.  nginx (2 workers, pool 4) connects with
#
#   host=127.0.0.1,127.0.0.1 port=<m1>,<m2> target_session_attrs=read-write
#
# so every new connection finds the primary.  Under a bounded load (4
# clients, each in turn: register a new user, log in, rotate its own refresh
# chain, read its profile; ~20 ms pause between requests), first a planned
# switchover (Patroni's REST POST /switchover), then, once the old leader
# is back as the synchronous standby, a kill -9 of the new leader (Patroni,
# postmaster and backends: a node crash).  Asserted:
#   - no worker crash, no [alert]/[crit]/[emerg];
#   - every answer is a success or the contract's JSON 503
#     (database_unavailable or overloaded); no transport error;
#   - the module follows the new primary: the first write (register or
#     refresh) answered 200 after Patroni's promotion (read from the new
#     primary's PostgreSQL log) comes within 5 s of it, for both switches,
#     and from 5 s after each promotion on every request succeeds;
#   - zero acknowledged writes lost: every registration answered 200 is a
#     user, every refresh answered 200 left its new token in refresh_tokens,
#     on the final primary;
#   - no refresh chain broken: no refresh answered 401 during the run, and
#     every client's last token still rotates afterwards.
# The figures (promotion and follow times, requests and failures per
# switch, writes checked) are printed as TAP notes.
#
# Ports: TEST_NGINX_PORT + 30..35 (etcd client/peer, Patroni REST and
# PostgreSQL of m1 and m2); TEST_NGINX_PORT defaults to 1984.

use strict;
use warnings;

use Test::More;
use FluentAI::Test;
use FluentAI::Load;
use FluentAI::Cluster qw(extra_port);
use FluentAI::Patroni;
use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(time sleep);

plan skip_all => 'a load run under valgrind measures valgrind'
    if $Test::Nginx::Util::UseValgrind;
for my $tool (qw(patroni etcd)) {
    BAIL_OUT("$tool not found: make test-ha installs it (scripts/deps.sh ha)")
        unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}

my $FOLLOW_LIMIT = 5;
my $DB = 'fluentai_ha';
my $T0 = time;

my $pc = FluentAI::Patroni->new(ports => [map { extra_port($_) } 30 .. 35]);
eval { $pc->start; 1 } or BAIL_OUT("Patroni cluster: $@");
my $L0 = $pc->leader;
diag sprintf 'Patroni cluster up in %.1f s: %s leads, %s is its synchronous '
    . 'standby', time - $T0, $L0, $pc->other($L0);

is $pc->psql($L0, 'postgres', "CREATE DATABASE $DB"), '', 'create database';
system('bash', 'sql/migrate.sh', $pc->conninfo($L0, $DB)) == 0
    or BAIL_OUT('sql/migrate.sh failed');

my ($P1, $P2) = map { $pc->pg_port($_) } qw(m1 m2);
my $CONNINFO = "host=127.0.0.1,127.0.0.1 port=$P1,$P2 dbname=$DB "
             . 'user=postgres target_session_attrs=read-write '
             . 'application_name=fluentai-ha';

Test::Nginx::Util::workers(2);
Test::Nginx::Util::log_level('notice');
start_nginx(
    main_config => fluentai_main_config(threads => 2),
    http_config => fluentai_http_config(
        database => $CONNINFO,
        extra    => "    fluentai_database_pool size=4;\n"
                  . "    fluentai_database_timeout 3s;\n"),
    config => fluentai_locations(),
) or BAIL_OUT('nginx did not start');

# one user and one refresh chain per client
my $CLIENTS = 4;
my $PASSWORD = 'failover password';
my @USERS;
for my $c (0 .. $CLIENTS - 1) {
    my $email = unique_email("ha-c$c");
    my $r = api(POST => '/auth/register',
                json => { name => "HA $c", email => $email,
                          password => $PASSWORD });
    is $r->{status}, 200, "setup: client $c registered" or diag $r->{body};
    push @USERS, { email => $email, access => $r->{json}{access_token},
                   refresh => $r->{json}{refresh_token} };
}

# ------------------------------------------------------------- load

my $RUN = "$$-" . int(time);
my $next = sub {
    my ($c, $i, $st) = @_;
    $st->{refresh} //= $USERS[$c]{refresh};
    my $u = $USERS[$c];
    my $n = ($c + $i) % 4;
    $n = 3 if $n == 2 && !$st->{refresh};      # a broken chain: no more
    if ($n == 0) {
        my $e = "ha-reg-$RUN-c$c-$i\@example.com";
        return { kind => 'register', email => $e,
                 raw => build_request(POST => '/auth/register',
                     json_encode({ name => 'Load', email => $e,
                                   password => 'load password' })) };
    }
    if ($n == 1) {
        return { kind => 'login',
                 raw => build_request(POST => '/auth/login',
                     json_encode({ email => $u->{email},
                                   password => $PASSWORD })) };
    }
    if ($n == 2) {
        return { kind => 'refresh',
                 raw => build_request(POST => '/auth/refresh',
                     json_encode({ refresh_token => $st->{refresh} })) };
    }
    return { kind => 'profile',
             raw => build_request(GET => '/auth/profile', undef,
                                  $u->{access}) };
};
my $after = sub {
    my ($c, $q, $rec, $j, $st) = @_;
    return unless $q->{kind} eq 'refresh' && !$rec->{err};
    if ($rec->{st} == 200 && $j && $j->{refresh_token}) {
        $st->{refresh} = $rec->{rt} = $j->{refresh_token};
    } elsif ($rec->{st} == 401) {
        $rec->{broken} = 1;
        $st->{refresh} = undef;
    }
};

my $mark = error_log_mark();
my $load = load_start(clients => $CLIENTS, next => $next, after => $after,
                      pause => 0.02, max_seconds => 120, timeout => 10);
my (@sw, $ok);
sleep 2;

# switch 1: planned switchover
$ok = eval {
    my ($t, $from, $to) = $pc->switchover;
    $pc->_wait("$to leads", 30, sub { ($pc->leader // '') eq $to });
    my $p;
    $pc->_wait("$to logged its promotion", 10,
               sub { $p = $pc->promoted_at($to, $t - 1) });
    push @sw, { name => 'switchover', cmd => $t, from => $from, to => $to,
                promoted => $p };
    $pc->wait_sync($to, $from, 60);
    1;
};
ok $ok, 'switchover done, the old leader is back as synchronous standby'
    or diag $@;
sleep 1;

# switch 2: kill -9 of the leader
$ok = $ok && eval {
    my $from = $pc->leader // die "no leader\n";
    my $to = $pc->other($from);
    my $t = $pc->crash($from);
    $pc->_wait("$to leads", 40, sub { ($pc->leader // '') eq $to });
    my $p;
    $pc->_wait("$to logged its promotion", 10,
               sub { $p = $pc->promoted_at($to, $t - 1) });
    push @sw, { name => 'kill -9 of the leader', cmd => $t, from => $from,
                to => $to, promoted => $p };
    1;
};
ok $ok, 'failover after kill -9 of the leader done' or diag $@;
sleep $FOLLOW_LIMIT + 1;
my @recs = load_stop($load);
my $t_end = time;

# ------------------------------------------------------------- checks

diag sprintf 'load: %d requests in %.1f s (%s)', scalar(@recs),
    $t_end - $recs[0]{t0}, summary(@recs);

is scalar(grep { $_->{err} } @recs), 0,
    'no transport error: every request got a complete HTTP answer'
    or diag summary(grep { $_->{err} } @recs);
my @bad = grep {
    !$_->{err}
    && !($_->{st} =~ /^2/
         || ($_->{st} == 503 && $_->{json} && $_->{ct} eq 'application/json'
             && ($_->{code} // '') =~ /^(?:database_unavailable|overloaded)$/))
} @recs;
is scalar(@bad), 0, 'every answer is a success or a JSON 503 '
    . 'database_unavailable/overloaded' or diag summary(@bad);

my $is_ok = sub { !$_[0]{err} && $_[0]{st} =~ /^2/ };
my $is_write = sub { $_[0]{k} eq 'register' || $_[0]{k} eq 'refresh' };

for my $i (0 .. $#sw) {
    my $s = $sw[$i];
    my $end = $i < $#sw ? $sw[$i + 1]{cmd} : $t_end;
    my @in = grep { $_->{t0} >= $s->{cmd} && $_->{t0} < $end } @recs;
    my @fail = grep { !$is_ok->($_) } @in;
    my ($first) = sort { $a->{t1} <=> $b->{t1} }
                  grep { $is_ok->($_) && $is_write->($_)
                         && $_->{t1} >= $s->{promoted} } @in;
    my $follow = $first ? $first->{t1} - $s->{promoted} : undef;
    my ($last_fail) = sort { $b->{t1} <=> $a->{t1} } @fail;
    diag sprintf '%s (%s -> %s): Patroni promoted %s %.2f s after the '
        . 'command; first write answered 200 %.3f s after the promotion; '
        . '%d requests until the next step, %d failed (%s)%s',
        $s->{name}, $s->{from}, $s->{to}, $s->{to},
        $s->{promoted} - $s->{cmd}, $follow // -1, scalar(@in),
        scalar(@fail), summary(@fail),
        $last_fail ? sprintf(', last failure %.3f s after the promotion',
                             $last_fail->{t1} - $s->{promoted}) : '';
    ok defined $follow && $follow <= $FOLLOW_LIMIT,
       "$s->{name}: the module wrote to the new primary within "
       . "$FOLLOW_LIMIT s of its promotion ("
       . (defined $follow ? sprintf('%.3f s', $follow) : 'never') . ')';
    # requests still in flight at the next step's command (a kill -9
    # ends their connections) belong to that step, not to this one
    my @late = grep { $_->{t0} >= $s->{promoted} + $FOLLOW_LIMIT
                      && $_->{t1} < $end } @in;
    my @cut = grep { $_->{t1} >= $end } @in;
    diag sprintf '%s: %d requests in flight at the next step (%s)',
        $s->{name}, scalar(@cut), summary(@cut) if @cut;
    ok @late > 10, "$s->{name}: load ran after the switch (" . scalar(@late)
        . ' requests)';
    is scalar(grep { !$is_ok->($_) } @late), 0,
       "$s->{name}: from $FOLLOW_LIMIT s after the promotion on, every "
       . 'request succeeded' or diag summary(grep { !$is_ok->($_) } @late);
}

# zero acknowledged writes lost, on the final primary
my $leader = $pc->leader;
ok $leader, "a leader at the end ($leader)";
my @regs = grep { $_->{k} eq 'register' && $is_ok->($_) } @recs;
is scalar(grep { ($_->{uemail} // '') ne $_->{email} } @regs), 0,
    'every 200 registration returned its own user';
my $found = $pc->psql($leader, $DB,
    'SELECT count(*) FROM users WHERE email IN ('
    . join(',', map { "'$_->{email}'" } @regs) . ')');
is $found, scalar(@regs), sprintf 'all %d registrations answered 200 are '
    . 'users on the final primary (%d missing)', scalar(@regs),
    scalar(@regs) - ($found || 0);
my @refs = grep { $_->{k} eq 'refresh' && $is_ok->($_) } @recs;
my $rfound = $pc->psql($leader, $DB,
    'SELECT count(*) FROM refresh_tokens WHERE encode(hash, \'hex\') IN ('
    . join(',', map { "'" . sha256_hex($_->{rt}) . "'" } @refs) . ')');
is $rfound, scalar(@refs), sprintf 'all %d refreshes answered 200 left '
    . 'their new token on the final primary (%d missing)', scalar(@refs),
    scalar(@refs) - ($rfound || 0);
diag sprintf 'acknowledged writes checked: %d registrations, %d refreshes; '
    . 'missing: %d', scalar(@regs), scalar(@refs),
    (scalar(@regs) - ($found || 0)) + (scalar(@refs) - ($rfound || 0));

# no refresh chain broken
is scalar(grep { $_->{broken} } @recs), 0,
    'no refresh answered 401 (no chain broken by the switches)';
for my $c (0 .. $CLIENTS - 1) {
    my ($last) = sort { $b->{t1} <=> $a->{t1} }
                 grep { $_->{c} == $c && $_->{rt} } @refs;
    my $tok = $last ? $last->{rt} : $USERS[$c]{refresh};
    my $r = api(POST => '/auth/refresh', json => { refresh_token => $tok });
    is $r->{status}, 200, "client $c: its last refresh token still rotates"
        or diag $r->{body};
}

my $log = error_log_since($mark);
unlike $log, qr/exited on signal/, 'no worker crashed';
stop_nginx();
diag sprintf 'suite: %.1f s', time - $T0;

done_testing;
