#!/usr/bin/perl
# fluentai_database with several hosts, and libpq changing its socket while
# a connection is set up (issue 17, point 1).
#
#   t/run-suites t/multihost.t
#
# Two clusters of its own (FluentAI::Cluster): a primary whose pg_hba.conf
# rejects SSL over TCP (ssl = on, "hostssl ... reject"), and a streaming
# standby of it (read-only; the same pg_hba.conf).  A port with nothing
# listening stands for a host that is down.  For each connection string
# below, a fresh nginx must register, log in, read the profile and rotate a
# refresh token, the user must be in the primary, and the error log must
# stay free of [alert]/[crit]/[emerg]:
#
#   - sslmode=prefer (libpq's default) against the SSL-refusing server:
#     libpq closes the SSL attempt and connects again without SSL, usually
#     on the same descriptor number (the module used to miss that: epoll
#     dropped the registration with the old socket; "[alert] epoll_ctl(3,
#     11) failed (2: No such file or directory)" and 503);
#   - a two-host list whose first host is the standby, with
#     target_session_attrs=read-write (libpq tries the standby, finds it
#     read-only, moves on to the primary): over TCP with host names
#     resolved at configuration time, over unix sockets, with hostaddr;
#   - a list whose first host is down (TCP, hostaddr, unix socket);
#   - all together: down, standby, primary, sslmode=prefer;
#   - configuration errors, found by nginx -t: host and port lists of
#     different lengths, a host name of a list that does not resolve.
#
# Ports: TEST_NGINX_PORT (default 1984) + 10..12.

use strict;
use warnings;

use Test::More;
use FluentAI::Test;
use FluentAI::Cluster qw(extra_port);
use IPC::Run ();
use Time::HiRes qw(time sleep);

plan skip_all => 'TEST_NGINX_PG_CONNINFO is not set (run via t/run-suites)'
    unless $ENV{TEST_NGINX_PG_CONNINFO};

my $DB = 'fluentai_multihost';
my $T0 = time;
my $P = FluentAI::Cluster->primary(port => extra_port(10), refuse_ssl => 1,
                                   name => 'mh-primary');
$P->migrate($DB);
my $S = $P->standby(port => extra_port(11), name => 'mh-standby');
my $DOWN = extra_port(12);     # nothing listens there
my ($PP, $SP) = ($P->{port}, $S->{port});
note sprintf 'clusters set up in %.1f s', time - $T0;

# the setup is what the scenarios claim
{
    my ($out, $err) = ('', '');
    my $ok = IPC::Run::run(['psql', '-X', '-A', '-t', '-d',
        "host=127.0.0.1 port=$PP dbname=$DB user=postgres sslmode=require",
        '-c', 'SELECT 1'], \undef, \$out, \$err);
    ok !$ok && $err =~ /rejects connection.*SSL/s,
       'setup: the primary refuses SSL connections (sslmode=require fails)'
        or diag $err;
    $ok = IPC::Run::run(['psql', '-X', '-A', '-t', '-d',
        "host=127.0.0.1 port=$PP dbname=$DB user=postgres sslmode=prefer",
        '-c', 'SHOW ssl'], \undef, \$out, \$err);
    ok $ok, 'setup: psql with sslmode=prefer connects (without SSL)';
    is $S->psql($DB, 'SELECT pg_is_in_recovery()'), 't',
       'setup: the second cluster is a standby';
}

sub primary_has {
    my ($email) = @_;
    return $P->psql($DB, "SELECT count(*) FROM users WHERE email = '$email'");
}

# the whole flow through one connection string
sub scenario {
    my ($what, $conninfo) = @_;
    my $t0 = time;
    my $ok = start_nginx(
        main_config => fluentai_main_config(),
        http_config => fluentai_http_config(
            database => $conninfo,
            extra    => "    fluentai_database_timeout 5s;\n"),
        config => fluentai_locations());
    unless ($ok) {
        fail "$what: nginx started";
        return;
    }
    my $email = unique_email('multihost');
    my $pw = 'multihost password';
    my $r = api(POST => '/auth/register',
                json => { name => 'Multi', email => $email, password => $pw });
    is $r->{status}, 200, "$what: register" or diag $r->{body};
    $r = api(POST => '/auth/login',
             json => { email => $email, password => $pw });
    is $r->{status}, 200, "$what: login" or diag $r->{body};
    my $access = $r->{json}{access_token} // '';
    my $refresh = $r->{json}{refresh_token} // '';
    $r = api(GET => '/auth/profile',
             headers => { Authorization => "Bearer $access" });
    is $r->{status}, 200, "$what: profile" or diag $r->{body};
    $r = api(POST => '/auth/refresh', json => { refresh_token => $refresh });
    is $r->{status}, 200, "$what: refresh" or diag $r->{body};
    is primary_has($email), 1, "$what: the user is in the primary";
    my @bad = grep { /epoll_ctl|exited on signal/ } split /\n/, error_log();
    is scalar(@bad), 0, "$what: no epoll_ctl failure, no crash"
        or diag join "\n", @bad[0 .. ($#bad < 2 ? $#bad : 2)];
    stop_nginx();
    note sprintf '%s: %.1f s', $what, time - $t0;
}

# ---------------------------------------------------------- socket changes

scenario('sslmode=prefer, the server refuses SSL',
         "host=127.0.0.1 port=$PP dbname=$DB user=postgres sslmode=prefer");
scenario('no sslmode (libpq default prefer), host name',
         "host=localhost port=$PP dbname=$DB user=postgres");

# ---------------------------------------------------------- first a standby

scenario('standby first, host names, target_session_attrs=read-write',
         "host=localhost,localhost port=$SP,$PP dbname=$DB user=postgres "
         . 'target_session_attrs=read-write sslmode=disable');
scenario('standby first, unix sockets',
         "host=$S->{sock},$P->{sock} port=$SP,$PP dbname=$DB user=postgres "
         . 'target_session_attrs=read-write');
scenario('standby first, URI',
         "postgresql://postgres\@127.0.0.1:$SP,127.0.0.1:$PP/$DB"
         . '?target_session_attrs=read-write&sslmode=disable');

# ---------------------------------------------------------- first one down

scenario('first host down (TCP)',
         "host=127.0.0.1,127.0.0.1 port=$DOWN,$PP dbname=$DB user=postgres "
         . 'sslmode=disable');
scenario('first host down (hostaddr list)',
         "hostaddr=127.0.0.1,127.0.0.1 port=$DOWN,$PP dbname=$DB "
         . 'user=postgres sslmode=disable');
scenario('first host down (unix sockets, one port for all)',
         "host=$S->{dir}/nothing-here,$P->{sock} port=$PP dbname=$DB "
         . 'user=postgres');

# ---------------------------------------------------------- everything

scenario('down, standby, primary; sockets and names; sslmode=prefer',
         "host=127.0.0.1,$S->{sock},localhost port=$DOWN,$SP,$PP "
         . "dbname=$DB user=postgres target_session_attrs=read-write "
         . 'sslmode=prefer');

# ---------------------------------------------------------- nginx -t errors

sub nginx_t_fails {
    my ($what, $conninfo, $re) = @_;
    my $ok = Test::Nginx::Util::start_server(
        name        => $0,
        main_config => fluentai_main_config(),
        http_config => fluentai_http_config(database => $conninfo),
        config      => fluentai_locations(),
    );
    ok !$ok->{ok}, "$what: nginx refuses the configuration";
    like error_log() . ($ok->{error} // ''), $re, "$what: and says why";
    Test::Nginx::Util::stop_server() if $ok->{ok};
}

nginx_t_fails('3 hosts, 2 ports',
              "host=127.0.0.1,127.0.0.1,127.0.0.1 port=$PP,$PP dbname=$DB",
              qr/3 hosts? .*2 ports?|ports? .*hosts?/);
nginx_t_fails('a host of the list does not resolve',
              "host=localhost,no-such-host.invalid port=$PP dbname=$DB",
              qr/no-such-host\.invalid.*could not be resolved/);

done_testing;
