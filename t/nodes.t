#!/usr/bin/perl
# Two nginx nodes on one database and one secret (issue 17, point 4): what
# a load balancer in front of several nodes relies on.
#
#   t/run-suites t/nodes.t
#
# Node A is the suite's usual server (t/servroot, TEST_NGINX_PORT); node B
# a second nginx with its own prefix (a temp dir) and port (TEST_NGINX_PORT
# + 20), the same fluentai_* configuration, the same
# database, the same secret file.  Asserted:
#   - a token issued by one node works on the other (access and refresh);
#   - a logout on A: the access token is refused on B at once, and so is
#     the session's refresh token;
#   - a refresh on B, then the old refresh token replayed on A within
#     fluentai_refresh_reuse_interval (2 s here): A answers B's successor
#     (the same refresh token: both derive it from the shared secret);
#     replayed on A after the interval: reuse is detected (401
#     refresh_token_reused) and the session is revoked on both nodes at
#     once;
#   - a change-password on B: the user's other sessions are refused on A
#     at once, the old password no longer logs in on A, the new one does;
#   - limit_req is per node: its zone lives in one nginx's shared memory,
#     so a client at its burst limit on A (429) is still served by B, which
#     counts only its own requests (both nodes: /health limited to 1 r/m
#     with burst=2, i.e. 3 requests, then 429).
#     (Per-account limits, where they exist, live in the database and so
#     are shared by all nodes.)
# Both error logs stay free of [alert]/[crit]/[emerg].

use strict;
use warnings;

use Test::More;
use FluentAI::Test;
use FluentAI::Cluster qw(extra_port);
use File::Temp qw(tempdir);
use IO::Socket::INET ();
use IPC::Run ();
use Time::HiRes qw(time sleep);

plan skip_all => 'TEST_NGINX_PG_CONNINFO is not set (run via t/run-suites)'
    unless $ENV{TEST_NGINX_PG_CONNINFO};

my $TF = Test::Nginx::Util::timeout_factor();
my $NGINX = $Test::Nginx::Util::NginxBinary;
my $A = 'http://127.0.0.1:' . server_port();
my $BPORT = extra_port(20);
my $B = "http://127.0.0.1:$BPORT";

# the same configuration for both nodes; /health limited per address
my $REUSE = 2;
my $HTTP = fluentai_http_config(
    extra => "    limit_req_zone \$binary_remote_addr zone=probe:1m "
           . "rate=1r/m;\n    limit_req_status 429;\n"
           . "    fluentai_refresh_reuse_interval ${REUSE}s;\n");
(my $LOCS = fluentai_locations()) =~
    s{(location = /health \{)}{$1 limit_req zone=probe burst=2 nodelay;};
like $LOCS, qr/limit_req zone=probe/, 'setup: /health is rate limited';

start_nginx(main_config => fluentai_main_config(), http_config => $HTTP,
            config => $LOCS) or BAIL_OUT('node A did not start');

# node B: its own prefix and port
my $BDIR = tempdir(CLEANUP => 1);
chmod 0755, $BDIR;
mkdir "$BDIR/$_" for qw(logs conf);
{
    my $conf = Test::Nginx::Util::gen_config(
        name => $0, main_config => fluentai_main_config(),
        http_config => $HTTP, config => $LOCS);
    my $sr = Test::Nginx::Util::servroot();
    $conf =~ s/\Q$sr\E/$BDIR/g;
    $conf =~ s/listen\s+(?:127\.0\.0\.1:)?\d+/listen 127.0.0.1:$BPORT/g;
    $conf =~ s/^daemon off;/daemon on;/m;
    $conf =~ s/^master_process off;/master_process on;/m;
    open my $fh, '>', "$BDIR/conf/nginx.conf" or die "$BDIR: $!\n";
    print $fh $conf;
    close $fh;
}
like do { local (@ARGV, $/) = "$BDIR/conf/nginx.conf"; <> },
     qr/listen 127\.0\.0\.1:$BPORT\b/, 'setup: node B has its own port';

sub nginx_b {
    my (@args) = @_;
    my ($out, $err) = ('', '');
    IPC::Run::run([$NGINX, '-p', "$BDIR/", '-c', 'conf/nginx.conf',
                   '-e', 'logs/error.log', @args], \undef, \$out, \$err);
    return ($? == 0, $err);
}

my ($bok, $berr) = nginx_b();
ok $bok, 'node B started' or BAIL_OUT("node B: $berr");
my $deadline = time + 10 * $TF;
until (IO::Socket::INET->new(PeerAddr => "127.0.0.1:$BPORT")) {
    BAIL_OUT('node B does not listen') if time > $deadline;
    sleep 0.1;
}

END {
    if (-f "$BDIR/logs/nginx.pid") {
        open my $fh, '<', "$BDIR/logs/nginx.pid";
        my $pid = <$fh>;
        kill 'QUIT', $pid + 0 if $pid;
    }
}

sub bearer { return { Authorization => "Bearer $_[0]" } }

sub login {
    my ($node, $email, $pw) = @_;
    return api(POST => "$node/auth/login",
               json => { email => $email, password => $pw });
}

# ------------------------------------------------------------- tokens

my $email = unique_email('nodes');
my $pw = 'nodes password 1';
my $r = api(POST => "$A/auth/register",
            json => { name => 'Two Nodes', email => $email, password => $pw });
is $r->{status}, 200, 'register on A';
my $access = $r->{json}{access_token};
my $refresh = $r->{json}{refresh_token};

$r = api(GET => "$B/auth/profile", headers => bearer($access));
is $r->{status}, 200, 'the access token issued by A works on B';
is $r->{json}{email}, $email, '... for the right user';
$r = api(POST => "$B/auth/refresh", json => { refresh_token => $refresh });
my $rotated = time;
is $r->{status}, 200, 'the refresh token issued by A rotates on B';
my $access2 = $r->{json}{access_token};
my $refresh2 = $r->{json}{refresh_token};
is api(GET => "$A/auth/profile", headers => bearer($access2))->{status}, 200,
   'the access token B issued works on A';

# ------------------------------------------------------------- refresh reuse

my $sent = time;
$r = api(POST => "$A/auth/refresh", json => { refresh_token => $refresh });
SKIP: {
    skip 'the replay came after the reuse interval (slow machine)', 2
        if $sent - $rotated >= $REUSE - 0.5;
    is $r->{status}, 200, 'the token B rotated, replayed on A within the '
       . 'reuse interval: 200';
    is $r->{json}{refresh_token}, $refresh2, '... with the successor B gave';
}
sleep $REUSE - (time - $rotated) + 0.5 if time - $rotated < $REUSE + 0.5;
$r = api(POST => "$A/auth/refresh", json => { refresh_token => $refresh });
is $r->{status}, 401, 'replayed on A after the interval: 401';
is $r->{json}{code}, 'refresh_token_reused', '... refresh_token_reused';
$r = api(POST => "$B/auth/refresh", json => { refresh_token => $refresh2 });
is $r->{status}, 401, 'the session is revoked on B at once (its newest '
   . 'refresh token is refused)';
is api(GET => "$B/auth/profile", headers => bearer($access2))->{status}, 401,
   '... and its access token on B too';

# ------------------------------------------------------------- logout

$r = login($A, $email, $pw);
is $r->{status}, 200, 'login on A';
my ($la, $lr) = @{ $r->{json} }{qw(access_token refresh_token)};
is api(GET => "$B/auth/profile", headers => bearer($la))->{status}, 200,
   'its access token works on B';
is api(POST => "$A/auth/logout", headers => bearer($la))->{status}, 200,
   'logout on A';
$r = api(GET => "$B/auth/profile", headers => bearer($la));
is $r->{status}, 401, 'the logged-out access token is refused on B at once';
is api(POST => "$B/auth/refresh", json => { refresh_token => $lr })
   ->{status}, 401, 'and so is the session\'s refresh token';

# ------------------------------------------------------------- change-password

my $on_a = login($A, $email, $pw);
is $on_a->{status}, 200, 'a session on A';
my $on_b = login($B, $email, $pw);
is $on_b->{status}, 200, 'a session on B';
my $pw2 = 'nodes password 2';
$r = api(POST => "$B/user/change-password",
         headers => bearer($on_b->{json}{access_token}),
         json => { currentPassword => $pw, newPassword => $pw2 });
is $r->{status}, 200, 'change-password on B' or diag $r->{body};
is api(GET => "$A/auth/profile",
       headers => bearer($on_a->{json}{access_token}))->{status}, 401,
   'the other session is refused on A at once';
is api(POST => "$A/auth/refresh",
       json => { refresh_token => $on_a->{json}{refresh_token} })->{status},
   401, '... and its refresh token';
is api(GET => "$A/auth/profile",
       headers => bearer($on_b->{json}{access_token}))->{status}, 200,
   'the session that changed it works on A';
is login($B, $email, $pw)->{status}, 401, 'the old password fails on B';
is login($B, $email, $pw2)->{status}, 200, 'the new password works on B';

# ------------------------------------------------------------- limit_req

my @a = map { api(GET => "$A/health")->{status} } 1 .. 4;
is "@a", '200 200 200 429', 'A: 3 requests within its burst, the 4th 429';
my @b = map { api(GET => "$B/health")->{status} } 1 .. 4;
is "@b", '200 200 200 429', 'B counts only its own: 3 more succeed there, '
   . 'then 429 (limit_req is per node)';

my @blog = do { local (@ARGV) = "$BDIR/logs/access.log"; <> };
cmp_ok scalar(grep { m{"POST /auth/refresh } } @blog), '>=', 2,
    'node B\'s own access log has the refreshes it served';
my ($ea) = grep { /\[(?:alert|crit|emerg)\]/ }
           do { local (@ARGV) = "$BDIR/logs/error.log"; <> };
ok !$ea, 'node B: no [alert]/[crit]/[emerg]' or diag $ea;
my ($qok, $qerr) = nginx_b('-s', 'quit');
ok $qok, 'node B stopped' or diag $qerr;
stop_nginx();

done_testing;
