#!/usr/bin/perl
# Prometheus metrics: `fluentai_endpoint metrics`.
#
#   t/run-suites t/metrics.t
#
# Two workers (one under valgrind) share the counters through the
# fluentai_metrics zone.  The test scrapes, sends a known mix of requests
# (registrations, logins of every outcome, a login throttled by limit_req
# and answered through error_page, refreshes rotated, reissued, reused and
# invalid, logouts, a session revoked by its user, profiles), scrapes
# again and checks every counter's increase against what it sent;
# `promtool check metrics` accepts the output; the gauges settle to idle; a reload keeps the counters; `fluentai_metrics
# off` turns it all off.

use strict;
use warnings;

use Test::More;
use FluentAI::Test;
use IPC::Run ();
use Time::HiRes ();

my $VG = $Test::Nginx::Util::UseValgrind ? 1 : 0;

Test::Nginx::Util::workers(2) unless $VG;

# fluentai_locations() mounts /metrics too
my $LOCATIONS = fluentai_locations() . <<'EOF';
    location = /throttled/login {
        limit_req zone=metrics_login burst=1 nodelay;
        error_page 429 @throttled;
        fluentai_endpoint login;
    }
    location @throttled {
        default_type application/json;
        return 429 '{"code":"rate_limited"}';
    }
EOF

my %CONF = (
    main_config => fluentai_main_config(),
    http_config => fluentai_http_config()
        . "    limit_req_zone \$binary_remote_addr zone=metrics_login:1m"
        . " rate=1r/m;\n    limit_req_status 429;\n",
    config      => $LOCATIONS,
);

# "name{labels}" => value
sub scrape {
    my $r = api(GET => '/metrics');
    is $r->{status}, 200, 'GET /metrics: 200';
    my %m;
    for my $line (split /\n/, $r->{body}) {
        next if $line =~ /^#/ || $line !~ /\S/;
        my ($k, $v) = $line =~ /^(\S+(?:\{[^}]*\})?) (\S+)$/
            or do { fail("unparsable line: $line"); next };
        $m{$k} = $v;
    }
    return ($r, \%m);
}

sub delta {
    my ($a, $b, $k) = @_;
    return ($b->{$k} // 0) - ($a->{$k} // 0);
}

sub login {
    my ($email, $password, $path) = @_;
    return api(POST => $path // '/auth/login',
               json => { email => $email, password => $password });
}

start_nginx(%CONF) or BAIL_OUT('nginx did not start');

my ($r0, $m0) = scrape();
like $r0->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
    'Content-Type of the Prometheus text format';
is $r0->{headers}{'cache-control'}, 'no-store', 'Cache-Control: no-store';

# --- the requests, counted ------------------------------------------------

my $pw = 'Correct-Horse-7';
my @users;
for my $i (1 .. 3) {
    my $email = unique_email("metrics$i");
    my $r = api(POST => '/auth/register',
                json => { name => "M$i", email => $email, password => $pw });
    is $r->{status}, 200, "register $i";
    push @users, { email => $email, %{ $r->{json} // {} } };
}
is api(POST => '/auth/register',
       json => { name => 'Dup', email => $users[0]{email},
                 password => $pw })->{status}, 409, 'register: email exists';
is api(POST => '/auth/register', json => { name => 'Bad' })->{status},
    422, 'register: invalid';

my $s1 = login($users[0]{email}, $pw);
is $s1->{status}, 200, 'login 1';
my $s2 = login($users[0]{email}, $pw);
is $s2->{status}, 200, 'login 2';
is login($users[1]{email}, 'wrong-password-1')->{status}, 401,
    "login: wrong password $_" for 1 .. 3;
is login(unique_email('nobody'), $pw)->{status}, 401, 'login: unknown email';
is api(POST => '/auth/login', body => '{', headers =>
       { 'Content-Type' => 'application/json' })->{status}, 400,
    'login: bad JSON';

# limit_req: burst 1 lets one through at once (rate 1r/m: nothing refills
# during the test), then two 429s through error_page @throttled
my $t1 = login($users[2]{email}, $pw, '/throttled/login');
is $t1->{status}, 200, 'throttled location: first login passes';
is login($users[2]{email}, $pw, '/throttled/login')->{status}, 200,
    'throttled location: the burst';
is login($users[2]{email}, $pw, '/throttled/login')->{status}, 429,
    "throttled location: 429 $_" for 1 .. 2;

my $rt = $users[1]{refresh_token};
my $r1 = api(POST => '/auth/refresh', json => { refresh_token => $rt });
is $r1->{status}, 200, 'refresh rotated';
my $r2 = api(POST => '/auth/refresh',
             json => { refresh_token => $r1->{json}{refresh_token} });
is $r2->{status}, 200, 'refresh rotated again';
my $r3 = api(POST => '/auth/refresh',
             json => { refresh_token => $r1->{json}{refresh_token} });
is $r3->{status}, 200, 'refresh: the parent again, within the reuse interval';
is $r3->{json}{refresh_token}, $r2->{json}{refresh_token},
    'reissued: the same successor';
is api(POST => '/auth/refresh', json => { refresh_token => $rt })->{status},
    401, 'refresh: reuse of a rotated token';
is api(POST => '/auth/refresh', json => { refresh_token => 'x' x 43 })
    ->{status}, 401, 'refresh: unknown token';

# user 0 has three live sessions (register, login 1, login 2): end them all
my $lo = api(POST => '/auth/logout',
             headers => { Authorization => "Bearer $s1->{json}{access_token}" },
             json => { all => JSON::PP::true() });
is $lo->{status}, 200, 'logout all';

my $tok = $users[2]{access_token};

# user 2 ends the session of its first throttled-location login
my (undef, $payload) = split /\./, $t1->{json}{access_token} // '';
require MIME::Base64;
my $t1_sid = JSON::PP::decode_json(
    MIME::Base64::decode_base64url($payload // ''))->{sid} // '';
is api(DELETE => "/auth/sessions/$t1_sid",
       headers => { Authorization => "Bearer $tok" })->{status}, 200,
    'DELETE /auth/sessions/{id}';
is api(GET => '/auth/profile', headers => { Authorization => "Bearer $tok" })
    ->{status}, 200, "profile $_" for 1 .. 5;
is api(GET => '/auth/profile')->{status}, 401, "profile without token $_"
    for 1 .. 2;
is api(GET => '/health')->{status}, 200, 'health';

# gauges are published once a second
Time::HiRes::sleep(1.5);

my ($r1m, $m1) = scrape();

my %want = (
    'fluentai_http_requests_total{endpoint="register",status="200"}' => 3,
    'fluentai_http_requests_total{endpoint="register",status="409"}' => 1,
    'fluentai_http_requests_total{endpoint="register",status="422"}' => 1,
    'fluentai_http_requests_total{endpoint="login",status="200"}' => 4,
    'fluentai_http_requests_total{endpoint="login",status="401"}' => 4,
    'fluentai_http_requests_total{endpoint="login",status="400"}' => 1,
    'fluentai_http_requests_total{endpoint="login",status="429"}' => 2,
    'fluentai_http_requests_total{endpoint="refresh",status="200"}' => 3,
    'fluentai_http_requests_total{endpoint="refresh",status="401"}' => 2,
    'fluentai_http_requests_total{endpoint="logout",status="200"}' => 1,
    'fluentai_http_requests_total{endpoint="session",status="200"}' => 1,
    'fluentai_http_requests_total{endpoint="profile",status="200"}' => 5,
    'fluentai_http_requests_total{endpoint="profile",status="401"}' => 2,
    'fluentai_http_requests_total{endpoint="health",status="200"}' => 1,
    'fluentai_http_requests_total{endpoint="metrics",status="200"}' => 1,
    'fluentai_logins_total{outcome="success"}' => 4,
    'fluentai_logins_total{outcome="invalid_credentials"}' => 4,
    'fluentai_logins_total{outcome="invalid_request"}' => 1,
    'fluentai_logins_total{outcome="throttled"}' => 2,
    'fluentai_logins_total{outcome="unavailable"}' => 0,
    'fluentai_logins_total{outcome="error"}' => 0,
    'fluentai_registrations_total{outcome="created"}' => 3,
    'fluentai_registrations_total{outcome="email_exists"}' => 1,
    'fluentai_registrations_total{outcome="invalid_request"}' => 1,
    'fluentai_refreshes_total{outcome="rotated"}' => 2,
    'fluentai_refreshes_total{outcome="reissued"}' => 1,
    'fluentai_refreshes_total{outcome="reused"}' => 1,
    'fluentai_refreshes_total{outcome="invalid"}' => 1,
    'fluentai_session_revocations_total{reason="logout"}' => 3,
    'fluentai_session_revocations_total{reason="refresh_token_reused"}' => 1,
    'fluentai_session_revocations_total{reason="revoked_by_user"}' => 1,
    # one hashing job per register that passed validation, per login that
    # reached the database
    'fluentai_password_hash_seconds_count' => 4 + 4 + 4,
    'fluentai_db_statement_seconds_count{statement="fluentai_register"}' => 4,
    'fluentai_db_statement_seconds_count{statement="fluentai_login_user"}'
        => 8,
    'fluentai_db_statement_seconds_count{statement="fluentai_login_session"}'
        => 4,
    'fluentai_db_statement_seconds_count{statement="fluentai_refresh"}' => 4,
    'fluentai_db_statement_seconds_count{statement="fluentai_logout"}' => 1,
    'fluentai_db_statement_seconds_count{statement="fluentai_profile"}' => 5,
);

for my $k (sort keys %want) {
    ok exists $m1->{$k}, "series present: $k";
    is delta($m0, $m1, $k), $want{$k}, "increase of $k";
}

is $m1->{'fluentai_db_connections{state="busy"}'}, 0, 'no busy connection';
cmp_ok $m1->{'fluentai_db_connections{state="idle"}'}, '>=', 1,
    'idle connections';
is $m1->{fluentai_db_waiting_requests}, 0, 'no request waiting';
is $m1->{fluentai_db_coalescing_lookups}, 0, 'no lookup held for a batch';
is $m1->{fluentai_hashing_jobs}, 0, 'no hashing job';

# histogram: cumulative buckets, +Inf = count, a plausible sum
my $k = 'fluentai_password_hash_seconds';
my @b = map { $m1->{$_} }
        sort { ($a =~ /le="([^"]+)"/)[0] <=> ($b =~ /le="([^"]+)"/)[0] }
        grep { /^${k}_bucket\{le="[0-9.]+"\}$/ } keys %$m1;
is scalar(@b), 15, "$k: 15 finite buckets";
is_deeply [ @b ], [ sort { $a <=> $b } @b ], "$k: buckets are cumulative";
is $m1->{"${k}_bucket{le=\"+Inf\"}"}, $m1->{"${k}_count"}, "$k: +Inf = count";
cmp_ok $m1->{"${k}_sum"}, '>', 0, "$k: sum > 0";

# --- promtool -------------------------------------------------------------

SKIP: {
    skip 'promtool not installed (package prometheus)', 1
        unless -x '/usr/bin/promtool';
    my $body = $r1m->{body};
    my ($out, $err) = ('', '');
    my $ok = IPC::Run::run(['promtool', 'check', 'metrics'], \$body, \$out,
                           \$err);
    ok $ok, 'promtool check metrics: no problems' or diag "$out$err";
}

# --- HEAD, methods ---------------------------------------------------------

my $h = api(HEAD => '/metrics');
is $h->{status}, 200, 'HEAD /metrics: 200';
is $h->{body}, '', 'HEAD: no body';
is api(POST => '/metrics', json => {})->{status}, 405, 'POST /metrics: 405';

# --- a reload keeps the counters -------------------------------------------

SKIP: {
    skip 'no reload under valgrind (master_process off)', 2 if $VG;
    my $before = $m1->{'fluentai_logins_total{outcome="success"}'};
    reload_nginx(%CONF);
    Time::HiRes::sleep(0.5);
    my (undef, $m2) = scrape();
    is $m2->{'fluentai_logins_total{outcome="success"}'}, $before,
        'logins after a reload: kept';
}

stop_nginx();

# --- fluentai_metrics off --------------------------------------------------

start_nginx(%CONF, http_config => $CONF{http_config}
                                  . "    fluentai_metrics off;\n")
    or BAIL_OUT('nginx did not start');

is api(GET => '/health')->{status}, 200, 'metrics off: the API works';
my $off = api(GET => '/metrics');
is $off->{status}, 404, "metrics off: /metrics answers nginx's 404";

stop_nginx();

done_testing;
