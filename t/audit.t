#!/usr/bin/perl
# The audit trail (sql/migrations/030_audit_log.sql): every security event
# in audit_log, written by the statement that does the work.
#
#   t/run-suites t/audit.t
#
# Each event with its user, session, client address, user agent and
# detail; a failed statement writes nothing; no password, token or hash in
# any row; hostile user agents neither break a login nor reach the table
# unsanitised; a success costs no extra statement (the metrics count them);
# the README's two queries ("all logins of this user", "failures from this
# address") answer as documented; retention.

use strict;
use warnings;

use Test::More;
use FluentAI::Test;
use IO::Socket::INET ();

# the rotated token presented again must be reuse at once, not a reissue
# within the reuse interval (that is t/reuse.t's)
my %CONF = (
    main_config => fluentai_main_config(),
    http_config => fluentai_http_config(
        extra => "    fluentai_refresh_reuse_interval 0;\n"),
    config      => fluentai_locations(),
);

my $TOP = $ENV{TEST_NGINX_DATA} ? "$ENV{TEST_NGINX_DATA}/../.." : '.';
my $UA = 'fluentai-test/1';            # FluentAI::Test's HTTP::Tiny agent

sub bearer { return { Authorization => "Bearer $_[0]" } }

# the events of a user, oldest first: "event|session|ip|ua|detail" lines
sub events_of {
    my ($uid) = @_;
    return [ split /\n/, psql(q{
        SELECT event || '|' || coalesce(session_id::text, '') || '|'
               || coalesce(host(ip), '') || '|' || coalesce(user_agent, '')
               || '|' || detail::text
          FROM audit_log WHERE user_id = $1 ORDER BY id}, $uid) ];
}

sub count_of {
    my ($where, @bind) = @_;
    return psql("SELECT count(*) FROM audit_log WHERE $where", @bind);
}

# one raw HTTP/1.0 request, for header bytes HTTP::Tiny will not send
sub raw_login {
    my ($email, $password, $ua) = @_;
    my $body = json_encode({ email => $email, password => $password });
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => server_port(), Timeout => 10)
        or return 0;
    print $s "POST /auth/login HTTP/1.0\r\nHost: localhost\r\n"
           . "User-Agent: $ua\r\nContent-Type: application/json\r\n"
           . "Content-Length: " . length($body) . "\r\n\r\n$body";
    my $resp = do { local $/; <$s> } // '';
    my ($st) = $resp =~ m{^HTTP/1\.\d (\d+)};
    return $st // 0;
}

sub metric {
    my ($name) = @_;
    my $body = api(GET => '/metrics')->{body};
    my ($v) = $body =~ /^\Q$name\E (\S+)$/m;
    return $v // 0;
}

start_nginx(%CONF) or BAIL_OUT('nginx did not start');

my $pw = 'Correct-Horse-8';
my $pw2 = 'Battery-Staple-9';
my $email = unique_email('audit');
my @secrets = ($pw, $pw2);

# --- signup -----------------------------------------------------------------

my $r = api(POST => '/auth/register',
            json => { name => 'Audit', email => $email, password => $pw });
is $r->{status}, 200, 'register';
my $uid = $r->{json}{user}{id};
my $reg_refresh = $r->{json}{refresh_token};
push @secrets, $r->{json}{access_token}, $reg_refresh;
my $reg_sid = psql('SELECT id FROM sessions WHERE user_id = $1', $uid);

is_deeply events_of($uid), ["signup|$reg_sid|127.0.0.1|$UA|{}"],
    'signup: user, session, address, user agent';

my $before = count_of("event = 'signup'");
is api(POST => '/auth/register',
       json => { name => 'Dup', email => $email, password => $pw })
    ->{status}, 409, 'a second registration of the email: 409';
is count_of("event = 'signup'"), $before,
    'the failed registration wrote no signup event';

# --- login, and what it costs -----------------------------------------------

my $ls = 'fluentai_db_statement_seconds_count{statement="fluentai_login_session"}';
my $lf = 'fluentai_db_statement_seconds_count{statement="fluentai_login_failed"}';
my $lu = 'fluentai_db_statement_seconds_count{statement="fluentai_login_user"}';
my %m0 = map { $_ => metric($_) } $ls, $lf, $lu;

$r = api(POST => '/auth/login',
         json => { email => $email, password => $pw, remember => JSON::PP::false() });
is $r->{status}, 200, 'login';
my $access = $r->{json}{access_token};
my $refresh = $r->{json}{refresh_token};
push @secrets, $access, $refresh;
my $login_sid = psql(q{SELECT id FROM sessions WHERE user_id = $1
                       ORDER BY created_at DESC LIMIT 1}, $uid);

is events_of($uid)->[-1],
   qq{login|$login_sid|127.0.0.1|$UA|{"remember": false}},
   'login: the new session, address, user agent, remember';
is metric($lu) - $m0{$lu}, 1, 'a successful login: one lookup statement';
is metric($ls) - $m0{$ls}, 1, '... one session statement (which audits)';
is metric($lf) - $m0{$lf}, 0, '... and no other';

# --- failed logins ------------------------------------------------------------

%m0 = map { $_ => metric($_) } $ls, $lf, $lu;
is api(POST => '/auth/login', json => { email => $email, password => 'Wrong-pass-1' })
    ->{status}, 401, 'wrong password: 401';
is events_of($uid)->[-1],
   qq{login_failed||127.0.0.1|$UA|{"email": "$email", "reason": "invalid_password"}},
   'login_failed: user, address, reason, email';
is metric($lf) - $m0{$lf}, 1, 'a failed login: one audit statement';
is metric($ls) - $m0{$ls}, 0, '... and no session statement';

my $nobody = unique_email('nobody');
is api(POST => '/auth/login', json => { email => $nobody, password => $pw })
    ->{status}, 401, 'unknown email: 401';
is psql(q{SELECT coalesce(user_id::text, 'null') || '|' || (detail->>'reason')
            FROM audit_log WHERE event = 'login_failed'
             AND detail->>'email' = $1}, $nobody),
   'null|unknown_email', 'login_failed of an unknown email: no user';

my $inactive = unique_email('inactive');
is api(POST => '/auth/register',
       json => { name => 'Gone', email => $inactive, password => $pw })
    ->{status}, 200, 'register a user to deactivate';
my $gone = psql('SELECT id FROM users WHERE email = $1', $inactive);
psql('UPDATE users SET is_active = false WHERE id = $1', $gone);
is api(POST => '/auth/login', json => { email => $inactive, password => $pw })
    ->{status}, 401, 'deactivated user, right password: 401';
is psql(q{SELECT detail->>'reason' FROM audit_log
           WHERE user_id = $1 AND event = 'login_failed'}, $gone),
   'inactive', 'login_failed reason: inactive';

# --- hostile user agents -------------------------------------------------------

is raw_login($email, 'Wrong-pass-2', "bad\xff\xfe\x01utf8"), 401,
    'a user agent with invalid UTF-8 and control bytes: still 401';
is psql(q{SELECT user_agent FROM audit_log WHERE user_id = $1
           ORDER BY id DESC LIMIT 1}, $uid),
   'bad???utf8', 'stored with every non-printable byte as "?"';
is raw_login($email, $pw, 'x' x 4000), 200,
    'a 4000-byte user agent: login works';
is psql(q{SELECT octet_length(user_agent) FROM audit_log WHERE user_id = $1
           ORDER BY id DESC LIMIT 1}, $uid),
   256, 'stored cut to 256 bytes';

# --- refresh reuse, logout, password change, revocations --------------------------

my $r1 = api(POST => '/auth/refresh', json => { refresh_token => $refresh });
is $r1->{status}, 200, 'refresh';
push @secrets, $r1->{json}{access_token}, $r1->{json}{refresh_token};
is api(POST => '/auth/refresh', json => { refresh_token => $refresh })
    ->{status}, 401, 'the rotated token again: reuse';
is_deeply [ sort @{ events_of($uid) }[-2, -1] ],
   [ "refresh_token_reused|$login_sid|127.0.0.1|$UA|{}",
     qq{session_revoked|$login_sid|||{"reason": "refresh_token_reused"}} ],
   'refresh_token_reused, and the session it revoked';

# two more sessions; change the password from one: all others end
my @s = map {
    api(POST => '/auth/login', json => { email => $email, password => $pw })->{json}
} 1 .. 2;
push @secrets, map { ($_->{access_token}, $_->{refresh_token}) } @s;
my $sid_of = sub {
    my ($tok) = @_;
    my (undef, $p) = split /\./, $tok;
    require MIME::Base64;
    return json_decode(MIME::Base64::decode_base64url($p))->{sid};
};
my $keep = $sid_of->($s[0]{access_token});
my @others = sort split /\n/, psql(q{SELECT id FROM sessions
    WHERE user_id = $1 AND revoked_at IS NULL AND id <> $2}, $uid, $keep);
is scalar(@others), 3, 'three other live sessions (signup, two logins)';
my $n = @{ events_of($uid) };
is api(POST => '/user/change-password', headers => bearer($s[0]{access_token}),
       json => { currentPassword => $pw, newPassword => $pw2 })->{status},
    200, 'change password';
my @ev = @{ events_of($uid) };
is_deeply [ sort @ev[$n .. $#ev] ],
   [ sort("password_changed|$keep|127.0.0.1|$UA|{}",
          map { qq{session_revoked|$_|||{"reason": "password_changed"}} }
              @others) ],
   'password_changed, and each other session revoked';

is api(POST => '/auth/logout', headers => bearer($s[0]{access_token}),
       json => {})->{status}, 200, 'logout';
is_deeply [ sort @{ events_of($uid) }[-2, -1] ],
   [ qq{logout|$keep|127.0.0.1|$UA|{"scope": "local"}},
     qq{session_revoked|$keep|||{"reason": "logout"}} ],
   'logout, and the session it revoked';

# --- no secret anywhere ------------------------------------------------------------

my $hash = psql('SELECT hashed_password FROM users WHERE id = $1', $uid);
for my $secret (@secrets, $hash) {
    is count_of(q{audit_log::text LIKE '%' || $1 || '%'}, $secret), 0,
       'no row holds a password, token or hash (' . substr($secret, 0, 6)
       . '...)';
}

# --- the README's queries ----------------------------------------------------------

my $doc = do {
    local $/;
    open my $f, '<', 'sql/README.md' or die "sql/README.md: $!";
    <$f>;
};
my ($q_user) = $doc =~ /(-- all logins of this user\n.*?;)/s;
my ($q_addr) = $doc =~ /(-- failures from this address\n.*?;)/s;
ok $q_user && $q_addr, 'sql/README.md has both queries' or diag $doc;

my @logins = split /\n/, psql($q_user, $email);
is scalar(@logins), 6, 'all logins of this user: 4 logins, 2 failures';
like $logins[0], qr/\|login\|/, 'newest first: the last login';
my @fails = grep { /\|login_failed\|/ } @logins;
is scalar(@fails), 2, '... the two failures among them';

my @from = split /\n/, psql($q_addr, '127.0.0.1');
cmp_ok scalar(@from), '>=', 4, 'failures from 127.0.0.1';
ok((grep { /\Q$nobody\E/ } @from), '... including the unknown email');
is scalar(split /\n/, psql($q_addr, '192.0.2.1')), 0,
    'no failures from another address';

# --- retention ------------------------------------------------------------------------

psql(q{INSERT INTO audit_log (created_at, event, user_id)
       VALUES (now() - interval '200 days', 'login', $1),
              (now() - interval '40 days', 'login', $1)}, $uid);
is psql('SELECT fluentai_audit_purge()'), 1,
   'default retention (180 days): the 200-day-old row goes';
is psql(q{SET fluentai.audit_retention = '30 days';
          SELECT fluentai_audit_purge()}), 1,
   'fluentai.audit_retention = 30 days: the 40-day-old row goes';
is count_of(q{user_id = $1 AND created_at < now() - interval '1 day'}, $uid),
   0, 'nothing old is left';
cmp_ok count_of('user_id = $1', $uid), '>=', 10, 'recent rows are kept';

stop_nginx();

done_testing;
