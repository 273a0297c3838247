#!/usr/bin/perl
# No secret in any log line, whatever module writes it, at any level.
#
#   t/run-suites t/logsecrets.t
#
# The error log runs at debug level (the most verbose: nginx's core prints
# the request line, the query string and every request header there) and
# /auth/refresh is rate limited (limit_req, burst 2, 429).  Refreshes use
# the original backend's query form ?refresh_token=: two succeed, one
# presents a rotated token (the module's "refresh token reuse" warning),
# one is rejected by limit_req (its "limiting requests" line names the
# request); profile calls send access tokens in Authorization headers;
# register, login and change-password send passwords; the refresh location
# has a second error_log at info level as well.  Then no password, refresh token (sent or received) or access token
# appears in any line of the error logs or the access log; the lines that
# would have carried them are there, redacted.

use strict;
use warnings;

use Test::More;
use FluentAI::Test;
use FluentAI::Sec;

Test::Nginx::Util::log_level('debug');

my $locations = '';
for (['/auth/register', 'register'], ['/auth/login', 'login'],
     ['/auth/logout', 'logout'], ['/auth/profile', 'profile'],
     ['/user/profile', 'user_profile'],
     ['/user/change-password', 'change_password'])
{
    $locations .= "    location = $_->[0] { fluentai_endpoint $_->[1]; }\n";
}
$locations .= <<'EOF';
    location = /auth/refresh {
        limit_req zone=fluentai_refresh burst=2 nodelay;
        limit_req_status 429;
        error_log logs/error.log debug;
        error_log logs/refresh-info.log info;
        fluentai_endpoint refresh;
    }
EOF

# the rotated token comes back at once: a reuse, not a reissue within the
# reuse interval
start_nginx(main_config => fluentai_main_config(),
            http_config => fluentai_http_config(
                extra => "    limit_req_zone \$binary_remote_addr"
                         . " zone=fluentai_refresh:1m rate=1r/m;\n"
                         . "    fluentai_refresh_reuse_interval 0;\n"),
            config      => $locations)
    or BAIL_OUT('nginx did not start');

my $servroot = Test::Nginx::Util::servroot();
my (@secrets, %what);
sub secret { my ($label, $v) = @_; return unless defined $v && length $v;
             push @secrets, $v; $what{$v} = $label }

my $P1 = 'Log-Secret-Pass-One-5b8c';
my $P2 = 'Log-Secret-Pass-Two-1e7d';
secret(password1 => $P1);
secret(password2 => $P2);

my $u = new_user('logsecrets', $P1);
secret(register_refresh => $u->{refresh});
secret(register_access => $u->{access});
my $s = new_session($u);
secret(login_refresh => $s->{refresh});
secret(login_access => $s->{access});

sub query_refresh {
    my ($t) = @_;
    my $r = api(POST => "/auth/refresh?refresh_token=$t");
    secret(refreshed_refresh => $r->{json}{refresh_token});
    secret(refreshed_access => $r->{json}{access_token});
    return $r;
}

my $r = query_refresh($s->{refresh});
is code($r), '200 ', 'refresh in the query form: 200 (the form still works)';
my $s2 = $r->{json}{refresh_token};
$r = query_refresh($u->{refresh});
is code($r), '200 ', 'a second query-form refresh: 200';
$r = query_refresh($s->{refresh});
is code($r), '401 refresh_token_reused',
    'a rotated token in the query form: 401 refresh_token_reused';
$r = query_refresh($s2);
is $r->{status}, 429, 'the fourth refresh: 429 from limit_req';

my $u2 = new_user('logsecrets2', $P2);
secret(user2_refresh => $u2->{refresh});
secret(user2_access => $u2->{access});
$r = api(POST => "/auth/refresh?refresh_token=$u2->{refresh}");
is $r->{status}, 429, 'another user\'s query-form refresh: 429 as well';
is code(api(POST => '/auth/refresh', json => { refresh_token => $u2->{refresh} })),
    '429 ', '... and in the body form (rate limited too)';

is api(GET => '/auth/profile', headers => bearer($u2->{access}))->{status},
    200, 'GET /auth/profile with a bearer token';
is code(api(GET => '/auth/profile',
            headers => bearer($u->{access} . 'x'))), '401 invalid_token',
    'a bad bearer token: 401';
$r = api(POST => '/user/change-password', headers => bearer($u2->{access}),
         json => { currentPassword => $P2, newPassword => "$P1-new" });
secret(password3 => "$P1-new");
is $r->{status}, 200, 'change-password';
is code(login($u->{email}, "$P2-wrong")), '401 invalid_credentials',
    'a failed login';
secret(password4 => "$P2-wrong");
is api(POST => "/auth/logout?refresh_token=$u2->{refresh}&scope=all",
       headers => bearer($u2->{access}))->{status}, 200,
    'logout with tokens in the query string and the header';

stop_nginx();

# ----------------------------------------------------------------- grep

my %levels;
my $lines = 0;
my @leaks;
for my $f (glob("$servroot/logs/*.log")) {
    open my $fh, '<', $f or next;
    while (my $l = <$fh>) {
        $lines++;
        $levels{$1}++ if $l =~ m{^\d{4}/\d\d/\d\d \S+ \[(\w+)\]};
        for my $sec (@secrets) {
            push @leaks, "$f: $what{$sec}: " . substr($l, 0, 300)
                if index($l, $sec) >= 0;
        }
    }
}
my $summary = join ', ', map { "$_ $levels{$_}" } sort keys %levels;
note "logsecrets: $lines lines grepped in "
     . join(' ', map { s{.*/}{}r } glob("$servroot/logs/*.log"))
     . "; levels: $summary; secrets looked for: " . scalar(@secrets);
ok $levels{debug} && $levels{warn} || $levels{error},
    "the logs were written at debug level ($summary)";
is scalar(@leaks), 0, 'no password, refresh token or access token in any'
                      . " line of any log ($lines lines, "
                      . scalar(@secrets) . ' secrets)'
    or diag join "\n", @leaks[0 .. ($#leaks < 20 ? $#leaks : 19)];

my $err = do { local $/; open my $fh, '<', "$servroot/logs/error.log"; <$fh> // '' };
like $err, qr/limiting requests.*refresh_token=\[redacted\]/,
    'limit_req\'s line is there, its request line redacted';
like $err, qr/refresh token reuse.*refresh_token=\[redacted\]/,
    'the module\'s reuse warning is there, its request line redacted';
like $err, qr/http request line: "POST \/auth\/refresh\?refresh_token=\[redacted\]/,
    'the core\'s debug request line is there, redacted';
like $err, qr/Authorization: \[redacted\]/,
    'the core\'s debug Authorization header line is there, redacted';
my $acc = do { local $/; open my $fh, '<', "$servroot/logs/access.log"; <$fh> // '' };
like $acc, qr/"POST \/auth\/refresh\?refresh_token=\[redacted\] HTTP/,
    'the access log has the request, redacted';
my $info = do { local $/; open my $fh, '<', "$servroot/logs/refresh-info.log"; <$fh> // '' };
like $info, qr/limiting requests/, 'the location\'s own error_log got the'
                                  . ' limit_req line too';

done_testing();
