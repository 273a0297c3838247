#!/usr/bin/perl
# Secrets never reach the logs (scenario style).
#
#   t/run-suites t/secrets.t
#
# A full flow (register, failed and good login, refresh with the token in
# the JSON body, profile, PUT profile, failed and good change-password,
# logout, validation failures, a Unicode password) runs with the error log
# at debug level, the most verbose there is.  Then:
#
#   - no password that was sent (raw, and as it would look JSON-escaped)
#     appears anywhere in the error log or the access log;
#   - no refresh token (sent or received) appears in either log;
#   - access tokens travel in the Authorization header, and nginx's CORE
#     prints every request header at debug level
#     ('http header: "Authorization: Bearer <jwt>"', ngx_http_request.c).
#     The module's log writer redacts those lines ("Authorization:
#     [redacted]", see t/logsecrets.t); the test asserts that access
#     tokens appear in no line at all and that the redacted dump is there;
#   - the query form ?refresh_token= (the original backend's, still
#     accepted) puts the token in the request line, which nginx's core
#     prints at debug level ('http request line:', 'http args:') and which
#     the default access log format records ($request).  The body form is
#     what the grep above covers; for the query form the test asserts that
#     the token appears in no line other than those core lines and records
#     (note) where it appeared.  The README tells clients to prefer the
#     body form for that reason.
#   - the database holds neither passwords nor refresh tokens in clear.

use strict;
use warnings;
use utf8;

use Test::More;
use FluentAI::Test qw(:DEFAULT bearer);
use MIME::Base64 qw(decode_base64url);

binmode Test::More->builder->$_, ':encoding(UTF-8)'
    for qw(output failure_output todo_output);
$ENV{PGCLIENTENCODING} = 'UTF8';

Test::Nginx::Util::log_level('debug');

start_nginx(main_config => fluentai_main_config(),
            http_config => fluentai_http_config(),
            config      => fluentai_locations())
    or BAIL_OUT('nginx did not start');

my $servroot = Test::Nginx::Util::servroot();


my (%passwords, %refresh, %access);

my $P1 = 'Secret-Pass-One-7f3a91';
my $P2 = 'Secret-Pass-Two-9c1b27';
my $WRONG = 'Wrong-Pass-Three-2d8e44';
my $SHORT = 'Sh0rt-7';                              # 7: a 422
my $LONG = 'Long-Secret-' . ('x' x 120) . '-5e6f';  # 137: a 422
my $UNI = 'пароль-Ünï-секрет-41';                   # non-ASCII
%passwords = (P1 => $P1, P2 => $P2, wrong => $WRONG, short => $SHORT,
              long => $LONG, unicode => $UNI);

sub keep_tokens {
    my ($label, $r) = @_;
    my $j = $r->{json} // {};
    $refresh{$label} = $j->{refresh_token} if $j->{refresh_token};
    $access{$label} = $j->{access_token} if $j->{access_token};
}

my $email = unique_email('secrets');

# ------------------------------------------------------------- the flow

my $r = api(POST => '/auth/register',
            json => { name => 'Secret Keeper', email => $email,
                      password => $P1 });
is $r->{status}, 200, 'register';
keep_tokens(register => $r);
is api(GET => '/auth/profile', headers => bearer($access{register}))
   ->{status}, 200, 'profile with the register access token';

$r = api(POST => '/auth/login', json => { email => $email,
                                          password => $WRONG });
is "$r->{status} " . ($r->{json}{code} // ''), '401 invalid_credentials',
    'login with a wrong password';

$r = api(POST => '/auth/login', json => { email => $email, password => $P1,
                                          remember => JSON::PP::false() });
is $r->{status}, 200, 'login';
keep_tokens(login => $r);

$r = api(POST => '/auth/refresh',
         json => { refresh_token => $refresh{login} });
is $r->{status}, 200, 'refresh (token in the body)';
keep_tokens(refresh => $r);
my $A = $access{refresh} // '';

$r = api(GET => '/auth/profile', headers => bearer($A));
is $r->{status}, 200, 'GET /auth/profile';
$r = api(GET => '/user/profile', headers => bearer($A));
is $r->{status}, 200, 'GET /user/profile';

$r = api(PUT => '/user/profile', headers => bearer($A),
         json => { bio => 'keeps secrets', name => 'Secret Keeper II' });
is $r->{status}, 200, 'PUT /user/profile';

$r = api(POST => '/user/change-password', headers => bearer($A),
         json => { currentPassword => $WRONG, newPassword => $P2 });
is "$r->{status} " . ($r->{json}{code} // ''),
    '401 current_password_incorrect', 'change-password, wrong current';

$r = api(POST => '/user/change-password', headers => bearer($A),
         json => { currentPassword => $P1, newPassword => $SHORT });
is $r->{status}, 422, 'change-password to a too short password: 422';

$r = api(POST => '/user/change-password', headers => bearer($A),
         json => { current_password => $P1, new_password => $P2 });
is $r->{status}, 200, 'change-password';

$r = api(POST => '/auth/refresh',
         json => { refresh_token => $refresh{register} });
is $r->{status}, 401, 'the register session died with the password change';

$r = api(POST => '/auth/logout', headers => bearer($A),
         json => { refresh_token => $refresh{refresh} });
is $r->{status}, 200, 'logout (bearer and refresh token in the body)';

$r = api(POST => '/auth/refresh',
         json => { refresh_token => $refresh{refresh} });
is $r->{status}, 401, 'refresh after logout: 401';

$r = api(POST => '/auth/login', json => { email => $email, password => $P2 });
is $r->{status}, 200, 'login with the new password';
keep_tokens(login2 => $r);
is api(GET => '/user/profile', headers => bearer($access{login2}))
   ->{status}, 200, 'profile with the new session';

$r = api(POST => '/auth/logout',
         json => { refresh_token => $refresh{login2} });
is $r->{status}, 200, 'logout by refresh token only';

$r = api(POST => '/auth/register',
         json => { name => 'Shorty', email => unique_email('secrets-short'),
                   password => $SHORT });
is $r->{status}, 422, 'register with a 7-character password: 422';
unlike $r->{body}, qr/\Q$SHORT\E/, 'the 422 does not echo the password';

$r = api(POST => '/auth/register',
         json => { name => 'Longy', email => unique_email('secrets-long'),
                   password => $LONG });
is $r->{status}, 422, 'register with a 137-character password: 422';
unlike $r->{body}, qr/\Q$LONG\E/, 'the 422 does not echo the password';

my $email_u = unique_email('secrets-uni');
$r = api(POST => '/auth/register',
         json => { name => 'Юникод', email => $email_u, password => $UNI });
is $r->{status}, 200, 'register with a non-ASCII password';
keep_tokens(register_u => $r);
$r = api(POST => '/auth/login', json => { email => $email_u,
                                          password => $UNI });
is $r->{status}, 200, 'login with the non-ASCII password';
keep_tokens(login_u => $r);
$r = api(POST => '/auth/logout', headers => bearer($access{login_u}));
is $r->{status}, 200, 'logout by bearer only';

# ------------------------------------------------------------- the logs

my $log = error_log();
my $acc = Test::Nginx::Util::read_file_text("$servroot/logs/access.log");

like $log, qr/\[debug\] \d+#\d+: \*\d+ http header: /,
    'the error log is at debug level (request headers dumped)';
ok length($log) > 10_000, 'the error log has content (' . length($log)
    . ' bytes)';

# the forms a secret could take in a log
sub forms {
    my ($s) = @_;
    my %f;
    my $bytes = $s;
    utf8::encode($bytes);
    $f{raw} = $bytes;
    my $esc = json_encode($s);             # ASCII-only \uXXXX escapes
    $esc =~ s/^"|"$//g;
    $f{json_ascii} = $esc if $esc ne $bytes;
    (my $pct = $bytes) =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge;
    $f{percent} = $pct if $pct ne $bytes;
    return %f;
}

for my $name (sort keys %passwords) {
    my %f = forms($passwords{$name});
    for my $k (sort keys %f) {
        ok index($log, $f{$k}) < 0,
           "password '$name' ($k) is not in the error log";
        ok index($acc, $f{$k}) < 0,
           "password '$name' ($k) is not in the access log";
    }
}

# refresh tokens: base64url, 43 characters; no other form than raw
ok scalar(keys %refresh) >= 5, 'collected the refresh tokens ('
    . join(', ', sort keys %refresh) . ')';
for my $name (sort keys %refresh) {
    my $t = $refresh{$name};
    ok index($log, $t) < 0, "refresh token '$name' is not in the error log";
    ok index($acc, $t) < 0, "refresh token '$name' is not in the access log";
}

# access tokens: only nginx core's own header dump lines
my $core_header = qr{^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[debug\] \d+#\d+: \*\d+ }
                  . qr{http header: "Authorization: Bearer ([^"]+)"$};
my @lines = split /\n/, $log;
for my $name (sort keys %access) {
    my $t = $access{$name};
    my @hits = grep { index($_, $t) >= 0 } @lines;
    my @other = grep { !(/$core_header/ && $1 eq $t) } @hits;
    is scalar(@other), 0, "access token '$name': in no line but nginx "
        . 'core\'s "http header" dump (' . scalar(@hits) . ' such lines)'
        or diag join "\n", @other[0 .. ($#other > 4 ? 4 : $#other)];
    ok index($acc, $t) < 0, "access token '$name' is not in the access log";
}
ok((grep { m{http header: "Authorization: \[redacted\]"} } @lines) > 0,
   'nginx core dumps Authorization headers at debug level, and the module\'s'
   . ' log writer redacts them');

# the JWT payload carries no secret either
for my $name (sort keys %access) {
    my (undef, $p) = split /\./, $access{$name};
    my $claims = decode_base64url($p // '');
    ok index($claims, $P1) < 0 && index($claims, $P2) < 0,
       "access token '$name' payload holds no password";
}

# ------------------------------------------------------------- the database

my $stored = psql('SELECT hashed_password FROM users WHERE email = $1',
                  $email);
like $stored, qr/^\$argon2id\$/, 'the stored password is an argon2id hash';
for my $name (sort keys %passwords) {
    my $hit = psql(q{SELECT count(*) FROM users WHERE }
                   . q{position($1 in hashed_password) > 0 }
                   . q{OR position($1 in name) > 0 }
                   . q{OR position($1 in coalesce(bio, '')) > 0},
                   $passwords{$name});
    is $hit, 0, "password '$name' is stored nowhere in users in clear";
}
for my $name (sort keys %refresh) {
    is psql(q{SELECT count(*) FROM refresh_tokens WHERE }
            . q{position(convert_to($1, 'UTF8') in hash) > 0}, $refresh{$name}),
       0, "refresh token '$name' is not stored in clear";
    is psql(q{SELECT count(*) FROM refresh_tokens WHERE }
            . q{hash = sha256(convert_to($1, 'UTF8'))}, $refresh{$name}),
       1, "refresh token '$name' is stored as its SHA-256";
}

# ------------------------------------------------------------- query form

{
    my $mark = error_log_mark();
    my $acc_mark = length $acc;
    $r = api(POST => '/auth/login', json => { email => $email,
                                              password => $P2 });
    my $t = $r->{json}{refresh_token} // 'none';
    $r = api(POST => "/auth/refresh?refresh_token=$t");
    is $r->{status}, 200, 'refresh with ?refresh_token= (the query form) '
        . 'works';
    my @hits = grep { index($_, $t) >= 0 } split /\n/, error_log_since($mark);
    # nginx core's debug lines print the request line, the args, and
    # "uri?args" (finalize request, output/copy/postpone filter): allowed
    # are [debug] lines of the http core where the token appears only in
    # those exact quoted forms
    my $core_line = qr{^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[debug\] \d+#\d+: }
                    . qr{\*\d+ http };
    my @other = grep {
        my $l = $_;
        my $core = $l =~ $core_line && $l !~ /fluentai/i;
        $l =~ s{"POST /auth/refresh\?refresh_token=\Q$t\E HTTP/1\.1"}{}g;
        $l =~ s{"/auth/refresh\?refresh_token=\Q$t\E"}{}g;
        $l =~ s{http args: "refresh_token=\Q$t\E"}{}g;
        !$core || index($l, $t) >= 0;
    } @hits;
    is scalar(@other), 0, 'query form: the token is in no error log line '
        . 'but nginx core\'s request line / args / "uri?args" debug dumps'
        or diag join "\n", @other;
    my %where;
    for (@hits) { $where{$1}++ if /: \*\d+ (http [a-z ]+?)(?::| ")/ }
    note 'query form exposure, error log (debug): '
         . join(', ', map { "'$_' x$where{$_}" } sort keys %where);
    my $acc2 = substr(Test::Nginx::Util::read_file_text(
                          "$servroot/logs/access.log"), $acc_mark);
    my $in_access = index($acc2, $t) >= 0 ? 1 : 0;
    note 'query form exposure, access log ($request in the default format): '
         . ($in_access ? 'yes' : 'no');
}

# ------------------------------------------------------------- end

unlike $log, qr/exited on signal/, 'no worker crashed';
stop_nginx();

done_testing;
