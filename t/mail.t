#!/usr/bin/perl
# Account recovery and email verification against a real SMTP server
# (scripts/smtp-sink.py, aiosmtpd, started here on TEST_NGINX_PORT + 1).
#
#   t/run-suites t/mail.t
#
#   1. forgot-password -> the mail arrives for the right recipient, valid
#      RFC 5322/MIME (Date, Message-ID, From, UTF-8 subject and body, a
#      Cyrillic name) with a working link -> reset-password -> the new
#      password logs in, the old one does not, the old sessions are dead,
#      the email counts as verified, the audit trail has password_reset,
#      a throttled account is unlocked; the token works once, also when two
#      requests race; only its hash is in the database; no token or link
#      in any log
#   2. unknown, inactive and malformed emails: the same answer, the same
#      time, no mail, no row; error paths of reset-password
#   3. the relay is down for a while: the mail arrives after it is back;
#      PostgreSQL restarted in between: still delivered; a reload in
#      between: still delivered; a 5xx is recorded, not retried
#   4. at most fluentai_mail_per_hour mails per account and hour
#   5. fluentai_email_verification on / required: register sends the
#      verification mail, verify-email (audit: email_verified),
#      resend-verification,
#      403 email_not_verified only after the password verified
#   6. STARTTLS with certificate verification and AUTH PLAIN

use strict;
use warnings;
use utf8;

use Test::More;
use FluentAI::Test;
use FluentAI::Mail;
use FluentAI::Pg;
use Digest::SHA qw(sha256_hex);
use FluentAI::Files;
use File::Temp qw(tempdir);
use POSIX ();
use Time::HiRes qw(time sleep);

for my $v (qw(TEST_NGINX_PG_CTL TEST_NGINX_PG_PGDATA TEST_NGINX_PG_CONNINFO)) {
    plan skip_all => "$v is not set (run via t/run-suites)"
        unless $ENV{$v};
}
plan skip_all => 'python3-aiosmtpd is not installed'
    unless -e '/usr/lib/python3/dist-packages/aiosmtpd';

my $TF = Test::Nginx::Util::timeout_factor();
my $VALGRIND = $Test::Nginx::Util::UseValgrind;
my $URL = 'https://app.example.test';
my $MAIL_WAIT = 15 * $TF;

# reset-password refuses common passwords like register does (t/blocklist.t)
my $BLOCKLIST = conf_files('fluentai-mail',
                           'blocklist.txt' => "letmein-please\n")
    . '/blocklist.txt';

sub mail_config {
    my (%o) = @_;
    my $port = $o{smtp_port} // sink_port();
    return fluentai_http_config(extra =>
          "    fluentai_public_url $URL/;\n"
        . "    fluentai_password_blocklist $BLOCKLIST;\n"
        . "    fluentai_mail_from"
        . " \"FluentAI Test <no-reply\@fluentai.test>\";\n"
        . "    fluentai_smtp_relay " . ($o{relay} // "127.0.0.1:$port") . ";\n"
        . "    fluentai_smtp_timeout " . ($o{timeout} // '5s') . ";\n"
        . "    fluentai_mail_retry 1s 2s;\n"
        . ($o{extra} // ''));
}

sub start {
    my (%o) = @_;
    return start_nginx(main_config => fluentai_main_config(),
                       http_config => mail_config(%o),
                       config      => fluentai_locations());
}

# ------------------------------------------------------------- helpers

my $FORGOT_BODY = '{"message":"If an account with this email exists, a '
    . 'link to reset the password has been sent to it.","success":true}';

sub register {
    my ($name, $email, $password) = @_;
    my $r = api(POST => '/auth/register',
                json => { name => $name, email => $email,
                          password => $password });
    return $r;
}

sub forgot { api(POST => '/auth/forgot-password', json => { email => $_[0] }) }

sub token_of {
    my ($m, $path) = @_;
    for my $l (@{ $m->{links} // [] }) {
        return $1 if $l =~ m{^\Q$URL\E\Q$path\E\?token=([A-Za-z0-9_-]{43})$};
    }
    return undef;
}

sub outbox {
    my ($email, $cols) = @_;
    return psql("SELECT $cols FROM fluentai_mail_outbox WHERE recipient = \$1"
                . ' ORDER BY id DESC LIMIT 1', $email);
}

sub wait_outbox {
    my ($email, $cond, $timeout) = @_;
    my $deadline = time + ($timeout // $MAIL_WAIT);
    while (time < $deadline) {
        my $v = outbox($email, $cond);
        return 1 if $v eq 't';
        sleep 0.1;
    }
    return 0;
}

# a user's audit rows of one event: "event|session|ip|ua|detail" lines
sub audit_event {
    my ($uid, $event) = @_;
    return psql(q{SELECT event || '|' || coalesce(session_id::text, '')
                         || '|' || host(ip) || '|' || user_agent || '|'
                         || detail::text
                    FROM audit_log WHERE user_id = $1 AND event = $2
                   ORDER BY id}, $uid, $event);
}

my @SECRETS;    # tokens and links that must never be logged

# ============================================================ 1. the flow

my $sink = start_sink();
start(extra => '') or BAIL_OUT('nginx did not start');

my $email = unique_email('anna');
my $name = "Анна Каренина-Вронская";
my $old_pw = 'old password 1';
my $new_pw = 'new password 2';

my $reg = register($name, $email, $old_pw);
is $reg->{status}, 200, 'register' or diag $reg->{body};
is_deeply $reg->{json}{user}{is_email_verified}, JSON::PP::false(),
    'register: is_email_verified false';
my $login = api(POST => '/auth/login',
                json => { email => $email, password => $old_pw });
is $login->{status}, 200, 'login before the reset';
my %old = (access  => $login->{json}{access_token},
           refresh => $login->{json}{refresh_token},
           access2 => $reg->{json}{access_token});

my $r = forgot(uc $email);
is $r->{status}, 200, 'forgot-password: 200';
is $r->{body}, $FORGOT_BODY, 'forgot-password: the one body';

my $m = wait_mail($sink, to => $email, timeout => $MAIL_WAIT);
ok $m, 'the reset mail arrived' or BAIL_OUT('no mail');
is_deeply $m->{envelope}{rcpt_tos}, [$email], 'envelope: the one recipient';
is $m->{envelope}{mail_from}, 'no-reply@fluentai.test',
    'envelope: the configured sender';

my $h = $m->{headers};
like $h->{date}, qr/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun),\ \d\d
                   \ (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)
                   \ \d{4}\ \d\d:\d\d:\d\d\ \+0000$/x,
    'Date: RFC 5322';
like $h->{'message-id'}, qr/^<fluentai\.\d+\.\d+\@fluentai\.test>$/,
    'Message-ID on the From domain';
is $m->{from}, 'FluentAI Test <no-reply@fluentai.test>', 'From'
    or diag $h->{from};
like $h->{to}, qr/^=\?UTF-8\?B\?/, 'To: the Cyrillic name encoded';
like $m->{to}, qr/\Q$name\E/, 'To: decodes to the name';
like $m->{to}, qr/<\Q$email\E>/, 'To: the address';
is $h->{'mime-version'}, '1.0', 'MIME-Version';
is $h->{'content-type'}, 'text/plain; charset=UTF-8', 'Content-Type';
is $h->{'content-transfer-encoding'}, 'base64', 'Content-Transfer-Encoding';
is $m->{subject}, 'Reset your FluentAI password', 'Subject';
ok defined $m->{text}, 'the body is valid UTF-8';
like $m->{text} // '', qr/^Hello \Q$name\E,\r\n/, 'body: the name';
like $m->{text} // '', qr/expires in 1 hour\./, 'body: the lifetime';
unlike $m->{text} // '', qr/\{\{/, 'body: no placeholder left';
unlike $m->{raw}, qr/[^\x00-\x7f]/, 'the message is 7-bit';
ok !grep({ length > 78 } split /\r\n/, $m->{raw}), 'no line over 78';
unlike $m->{raw}, qr/(?<!\r)\n/, 'CRLF line ends';

my $token = token_of($m, '/reset-password');
ok $token, 'a link to /reset-password with a 43-character token';
push @SECRETS, $token;
is psql('SELECT count(*) FROM fluentai_email_tokens WHERE hash = '
        . "decode(\$1, 'hex') AND purpose = 'reset_password'",
        sha256_hex($token)), 1, 'the database holds the token hash';
is psql("SELECT count(*) FROM fluentai_email_tokens t, fluentai_mail_outbox"
        . " o WHERE position(convert_to(\$1, 'UTF8') in t.hash) > 0"
        . " OR position(convert_to(\$1, 'UTF8') in o.seed) > 0", $token),
    0, 'the token itself is nowhere in the database';
ok wait_outbox($email, 'sent_at IS NOT NULL AND seed IS NULL'),
    'the outbox row is marked sent and its seed wiped';

# a common or blank new password: 422 password_too_common, before the
# token is looked at: the token and the password stay as they were
my $hash_before = psql('SELECT hashed_password FROM users WHERE email = $1',
                       $email);
for my $weak (['LetMeIn-Please', 'on the blocklist (another case)'],
              [' ' x 9, 'only white space'])
{
    $r = api(POST => '/auth/reset-password',
             json => { token => $token, new_password => $weak->[0] });
    is $r->{status}, 422, "reset-password, a password $weak->[1]: 422";
    is $r->{json}{code}, 'password_too_common', '... password_too_common';
    my $d = ($r->{json}{details} // [])->[0] // {};
    is_deeply [ $d->{loc}, $d->{type} ],
        [ [ 'body', 'newPassword' ], 'value_error.password_too_common' ],
        '... details: newPassword, value_error.password_too_common';
}
is psql('SELECT hashed_password FROM users WHERE email = $1', $email),
    $hash_before, 'refused: the password is unchanged';
is psql('SELECT count(*) FROM fluentai_email_tokens WHERE hash = '
        . "decode(\$1, 'hex') AND used_at IS NULL", sha256_hex($token)),
    1, 'refused: the token is not used up';

# the account is over its login throttle (someone guessed at it)
psql(q{INSERT INTO login_throttle (email, failures, window_start)
       VALUES ($1, 1000000, now())}, $email);
$r = api(POST => '/auth/login', json => { email => $email,
                                          password => $old_pw });
is $r->{status}, 429, 'throttled before the reset: 429';

my $uid = psql('SELECT id FROM users WHERE email = $1', $email);
my $version = psql('SELECT credential_version FROM users WHERE email = $1',
                   $email);
$r = api(POST => '/auth/reset-password',
         json => { token => $token, new_password => $new_pw });
is $r->{status}, 200, 'reset-password: 200';
is audit_event($uid, 'password_reset'),
   'password_reset||127.0.0.1|fluentai-test/1|{}',
   'reset: the audit event password_reset, with the client and its agent';
is psql(q{SELECT count(*) FROM audit_log WHERE user_id = $1
            AND event = 'session_revoked'
            AND detail->>'reason' = 'password_reset'}, $uid),
   2, '... and session_revoked for each session (login, register)';
is psql('SELECT count(*) FROM login_throttle WHERE email = $1', $email), 0,
   'reset: the login throttle of the account is gone';
is psql('SELECT credential_version FROM users WHERE email = $1', $email),
    $version + 1, 'reset bumps the credential version (migration 010)';
is $r->{json}{success}, JSON::PP::true(), 'reset-password: success';
ok !exists $r->{json}{access_token}, 'reset-password does not log in';

$r = api(GET => '/auth/profile',
         headers => { Authorization => "Bearer $old{access}" });
is $r->{status}, 401, 'old session (login) revoked';
$r = api(GET => '/auth/profile',
         headers => { Authorization => "Bearer $old{access2}" });
is $r->{status}, 401, 'old session (register) revoked';
$r = api(POST => '/auth/refresh', json => { refresh_token => $old{refresh} });
is $r->{status}, 401, 'old refresh token dead';

# the sessions are dead by their credential version too: a tool that
# clears revoked_at brings none of them back
psql('UPDATE sessions SET revoked_at = NULL, revoke_reason = NULL'
     . ' WHERE user_id = (SELECT id FROM users WHERE email = $1)', $email);
$r = api(GET => '/auth/profile',
         headers => { Authorization => "Bearer $old{access}" });
is $r->{status}, 401, 'an un-revoked pre-reset session stays dead';

$r = api(POST => '/auth/login', json => { email => $email,
                                          password => $old_pw });
is $r->{status}, 401, 'the old password no longer logs in';
$r = api(POST => '/auth/login', json => { email => $email,
                                          password => $new_pw });
is $r->{status}, 200, 'the new password logs in';
is_deeply $r->{json}{user}{is_email_verified}, JSON::PP::true(),
    'reset marked the email verified';
my $profile = api(GET => '/auth/profile',
                  headers => { Authorization =>
                               "Bearer $r->{json}{access_token}" });
is_deeply $profile->{json}{user}{is_email_verified}
          // $profile->{json}{is_email_verified}, JSON::PP::true(),
    'profile: is_email_verified';

$r = api(POST => '/auth/reset-password',
         json => { token => $token, newPassword => 'third password 3' });
is $r->{status}, 400, 'the token works once';
is $r->{json}{code}, 'invalid_reset_token', '... invalid_reset_token';
is psql(q{SELECT count(*) FROM audit_log
            WHERE event = 'password_reset' AND user_id = $1}, $uid), 1,
   '... and writes no audit event';

# two resets with one token at the same time: exactly one wins

forgot($email);
$m = wait_mail($sink, to => $email, seen => 1, timeout => $MAIL_WAIT);
my $token2 = $m ? token_of($m, '/reset-password') : undef;
ok $token2 && $token2 ne $token, 'a second reset mail, a new token';
push @SECRETS, $token2 if $token2;

my @kids;
for my $i (1 .. 2) {
    pipe my $rd, my $wr or die;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        close $rd;
        my $x = api(POST => '/auth/reset-password',
                    json => { token => $token2,
                              newPassword => "racer password $i" });
        print $wr $x->{status};
        close $wr;
        POSIX::_exit(0);
    }
    close $wr;
    push @kids, [$pid, $rd];
}
my @st = sort map {
    my ($pid, $rd) = @$_;
    my $s = do { local $/; <$rd> } // '';
    waitpid $pid, 0;
    $s;
} @kids;
is "@st", '200 400', 'two concurrent resets: one 200, one 400';
is psql(q{SELECT count(*) FROM audit_log
            WHERE event = 'password_reset' AND user_id = $1}, $uid), 2,
   '... and one more password_reset event, for the winner only';

# ============================================================ 2. silence

my $MISSING = unique_email('nobody');
my $inactive = unique_email('inactive');
register('Inactive', $inactive, 'inactive password');
psql('UPDATE users SET is_active = false WHERE email = $1', $inactive);

for my $e ($MISSING, $inactive, 'not an email') {
    $r = forgot($e);
    is $r->{status}, 200, "forgot-password for $e: 200";
    is $r->{body}, $FORGOT_BODY, "... the same body";
}
ok no_mail_for($sink, $MISSING, 2), 'no mail for an unknown email';
ok no_mail_for($sink, $inactive, 0.1), 'no mail for an inactive user';
is psql('SELECT count(*) FROM fluentai_mail_outbox WHERE recipient IN '
        . '($1, $2)', $MISSING, $inactive), 0, 'no outbox row for them';

# the same time: medians of alternating requests (a generous bound, the
# machine is shared)
SKIP: {
    skip 'timing under valgrind', 1 if $VALGRIND;
    my $known = unique_email('timing');
    register('Timing', $known, 'timing password');
    my (@k, @u);
    for my $i (1 .. 12) {
        for my $pair ([\@k, $known], [\@u, unique_email('ghost')]) {
            my $t0 = time;
            forgot($pair->[1]);
            push @{ $pair->[0] }, time - $t0;
        }
    }
    my $med = sub { my @s = sort { $a <=> $b } @_; $s[@s / 2] };
    my ($mk, $mu) = ($med->(@k), $med->(@u));
    note sprintf 'forgot-password median: known %.2f ms, unknown %.2f ms',
                 $mk * 1000, $mu * 1000;
    ok abs($mk - $mu) < 0.005 + 0.5 * ($mk < $mu ? $mk : $mu),
        'known and unknown emails take the same time';
}

$r = api(POST => '/auth/forgot-password', json => {});
is $r->{status}, 422, 'forgot-password without email: 422';
$r = api(POST => '/auth/reset-password',
         json => { token => 'x' x 43, new_password => $new_pw });
is $r->{status}, 400, 'reset-password with an unknown token: 400';
is $r->{json}{code}, 'invalid_reset_token', '... invalid_reset_token';
$r = api(POST => '/auth/reset-password',
         json => { token => 'short', new_password => $new_pw });
is $r->{json}{code}, 'invalid_reset_token', 'malformed token: 400 too';
$r = api(POST => '/auth/reset-password', json => { token => $token2,
                                                   new_password => 'short' });
is $r->{status}, 422, 'reset-password: the register password rule';
$r = api(POST => '/auth/reset-password', json => { new_password => $new_pw });
is $r->{status}, 422, 'reset-password without token: 422';

# an expired token
my $exp = unique_email('expired');
register('Expired', $exp, 'expired password 1');
forgot($exp);
$m = wait_mail($sink, to => $exp, timeout => $MAIL_WAIT);
my $token3 = $m ? token_of($m, '/reset-password') : '';
push @SECRETS, $token3;
psql("UPDATE fluentai_email_tokens SET expires_at = now() - interval '1s'"
     . " WHERE hash = decode(\$1, 'hex')", sha256_hex($token3));
$r = api(POST => '/auth/reset-password',
         json => { token => $token3, new_password => $new_pw });
is $r->{json}{code}, 'invalid_reset_token', 'an expired token: 400';

# ============================================================ 3. outages

# the relay is down: retried with backoff, delivered once it is back
stop_sink($sink);
my $down = unique_email('down');
register('Down', $down, 'down password 1');
forgot($down);
ok wait_outbox($down, 'attempts >= 2 AND last_error IS NOT NULL'
                      . ' AND sent_at IS NULL'),
    'relay down: attempts recorded, not sent';
$sink = start_sink(dir => $sink->{dir});
$m = wait_mail($sink, to => $down, timeout => $MAIL_WAIT);
ok $m, 'relay back: the mail arrives';
push @SECRETS, token_of($m, '/reset-password') // '' if $m;

# PostgreSQL restarted between the request and the delivery
stop_sink($sink);
my $pgr = unique_email('pgrestart');
register('Pg Restart', $pgr, 'pg restart password');
forgot($pgr);
sleep 0.5;
ok pg_restart(), 'PostgreSQL restarted';
$sink = start_sink(dir => $sink->{dir});
$m = wait_mail($sink, to => $pgr, timeout => $MAIL_WAIT);
ok $m, 'PostgreSQL restarted in between: still delivered';
my $t4 = $m ? token_of($m, '/reset-password') : '';
push @SECRETS, $t4;
$r = api(POST => '/auth/reset-password',
         json => { token => $t4, new_password => $new_pw });
is $r->{status}, 200, '... and its link works';

# a reload in between
stop_sink($sink);
my $rel = unique_email('reload');
register('Reload', $rel, 'reload password 1');
forgot($rel);
sleep 0.3;
reload_nginx(main_config => fluentai_main_config(),
             http_config => mail_config(), config => fluentai_locations());
$sink = start_sink(dir => $sink->{dir});
$m = wait_mail($sink, to => $rel, timeout => $MAIL_WAIT);
ok $m, 'reload in between: still delivered';
push @SECRETS, token_of($m, '/reset-password') // '' if $m;

# a worker dies while the relay holds the message: sent again after the
# lease (12 x fluentai_smtp_timeout), the same Message-ID: at-least-once
SKIP: {
    skip 'worker crash: no worker processes under valgrind', 4 if $VALGRIND;
    stop_sink($sink);
    stop_nginx();
    start(timeout => '2s');
    $sink = start_sink(dir => $sink->{dir}, args => ['--delay-first', '2']);
    my $crash = unique_email('crash');
    register('Crash', $crash, 'crash password 1');
    forgot($crash);
    my $first = wait_mail($sink, to => $crash, timeout => $MAIL_WAIT);
    my @w = Test::Nginx::Util::_children_of(
                Test::Nginx::Util::_read_pidfile());
    ok $first && @w && kill('KILL', @w) == @w,
        'worker crash while the relay holds the message';
    my $again = wait_mail($sink, to => $crash, seen => 1, timeout => 45);
    ok $again, 'the mail is sent again after its lease';
    is $again && $again->{headers}{'message-id'},
       $first && $first->{headers}{'message-id'},
       '... with the same Message-ID';
    ok wait_outbox($crash, 'sent_at IS NOT NULL'), '... and recorded as sent';
    push @SECRETS, token_of($first, '/reset-password') // '' if $first;
    stop_nginx(allow => qr/exited on signal 9/);
    start();
}

# a permanent failure is recorded and not retried
stop_sink($sink);
$sink = start_sink(dir => $sink->{dir}, args => ['--reject-rcpt', 'refused']);
my $refused = unique_email('refused');
register('Refused', $refused, 'refused password');
forgot($refused);
ok wait_outbox($refused, "failed_at IS NOT NULL AND last_error LIKE '550%'"
                         . ' AND seed IS NULL AND attempts = 1'),
    'a 5xx is recorded as a permanent failure';
sleep 2.5;
is outbox($refused, 'attempts'), 1, '... and not retried';

# ============================================================ 4. limits

my $lim = unique_email('limit');
register('Limit', $lim, 'limit password 1');
forgot($lim) for 1 .. 7;
is psql('SELECT count(*) FROM fluentai_mail_outbox WHERE recipient = $1',
        $lim), 5, 'at most 5 mails an hour per account';

# ============================================================ logs

my $log = error_log();
my @leaks = grep { length && index($log, $_) >= 0 } @SECRETS;
is scalar @leaks, 0, 'no token in the error log';
unlike $log, qr/token=/, 'no link in the error log';

stop_nginx();

# ============================================================ 5. verification

start(extra => "    fluentai_email_verification on;\n"
             . "    fluentai_verify_token_ttl 2h;\n")
    or BAIL_OUT('nginx did not start');

my $ver = unique_email('verify');
$r = register('Вера', $ver, 'verify password 1');
is $r->{status}, 200, 'verification on: register';
is_deeply $r->{json}{user}{is_email_verified}, JSON::PP::false(),
    '... not verified yet';
my $vat = $r->{json}{access_token};
$m = wait_mail($sink, to => $ver, timeout => $MAIL_WAIT);
ok $m, 'register sent the verification mail';
is $m && $m->{subject}, 'Confirm your email address for FluentAI',
    'its subject';
like $m ? $m->{text} : '', qr/expires in 2 hours\./, 'its lifetime';
my $vt = $m ? token_of($m, '/verify-email') : undef;
ok $vt, 'a link to /verify-email';
push @SECRETS, $vt // '';

$r = api(POST => '/auth/resend-verification', json => { email => $ver });
is $r->{status}, 200, 'resend-verification: 200';
$m = wait_mail($sink, to => $ver, seen => 1, timeout => $MAIL_WAIT);
my $vt2 = $m ? token_of($m, '/verify-email') : undef;
ok $vt2 && $vt2 ne ($vt // ''), 'resend: a new link';
push @SECRETS, $vt2 // '';

$r = api(POST => '/auth/verify-email', json => { token => $vt });
is $r->{json}{code}, 'invalid_verification_token',
    'the older link was superseded';
$r = api(POST => '/auth/verify-email', json => { token => $vt2 });
is $r->{status}, 200, 'verify-email: 200';
my $vuid = psql('SELECT id FROM users WHERE email = $1', $ver);
is audit_event($vuid, 'email_verified'),
   'email_verified||127.0.0.1|fluentai-test/1|{}',
   'verify-email: the audit event email_verified';
$r = api(GET => '/auth/profile', headers => { Authorization => "Bearer $vat" });
is_deeply $r->{json}{user}{is_email_verified} // $r->{json}{is_email_verified},
    JSON::PP::true(), 'profile: verified';
$r = api(POST => '/auth/verify-email', json => { token => $vt2 });
is $r->{status}, 400, 'verify-email twice: 400';
is $r->{json}{code}, 'invalid_verification_token',
    '... invalid_verification_token';
is psql(q{SELECT count(*) FROM audit_log
            WHERE event = 'email_verified' AND user_id = $1}, $vuid), 1,
   '... and no second audit event';
$r = api(POST => '/auth/resend-verification', json => { email => $ver });
is $r->{status}, 200, 'resend for a verified email: 200';
ok !defined wait_mail($sink, to => $ver, seen => 2, timeout => 2),
    '... and no mail';

stop_nginx();

start(extra => "    fluentai_email_verification required;\n")
    or BAIL_OUT('nginx did not start');
my $req = unique_email('required');
register('Required', $req, 'required password');
$r = api(POST => '/auth/login', json => { email => $req,
                                          password => 'wrong password' });
is $r->{status}, 401, 'required: a wrong password is still 401';
$r = api(POST => '/auth/login', json => { email => $req,
                                          password => 'required password' });
is $r->{status}, 403, 'required: unverified login 403';
is $r->{json}{code}, 'email_not_verified', '... email_not_verified';
$m = wait_mail($sink, to => $req, timeout => $MAIL_WAIT);
my $rt = $m ? token_of($m, '/verify-email') : '';
push @SECRETS, $rt;
api(POST => '/auth/verify-email', json => { token => $rt });
$r = api(POST => '/auth/login', json => { email => $req,
                                          password => 'required password' });
is $r->{status}, 200, 'required: verified login 200';

$log = error_log_since(0);
@leaks = grep { length && index($log, $_) >= 0 } @SECRETS;
is scalar @leaks, 0, 'no verification token in the error log';

stop_nginx();
stop_sink($sink);

# ============================================================ 6. STARTTLS

SKIP: {
    my $dir = tempdir(CLEANUP => 1);
    my $ok = 1;
    for my $c (qw(cert other)) {
        $ok &&= system('openssl req -x509 -newkey rsa:2048 -nodes -days 2 '
                       . '-subj /CN=localhost '
                       . '-addext subjectAltName=DNS:localhost '
                       . "-keyout $dir/$c.key -out $dir/$c.pem "
                       . '>/dev/null 2>&1') == 0;
    }
    skip 'openssl could not make a certificate', 4 unless $ok;
    open my $fh, '>', "$dir/auth" or die;
    print $fh "mailer:s3cret pass\n";
    close $fh;

    my $tls = start_sink(args => ['--tls-cert', "$dir/cert.pem",
                                  '--tls-key', "$dir/cert.key",
                                  '--auth', 'mailer:s3cret pass']);
    my $tls_conf = "    fluentai_smtp_starttls on;\n"
        . "    fluentai_smtp_auth $dir/auth;\n";

    start(relay => 'localhost:' . sink_port(),
          extra => $tls_conf
                   . "    fluentai_smtp_trusted_certificate $dir/cert.pem;\n")
        or BAIL_OUT('nginx did not start');
    my $te = unique_email('tls');
    register('Tls', $te, 'tls password 1');
    forgot($te);
    $m = wait_mail($tls, to => $te, timeout => $MAIL_WAIT);
    ok $m, 'STARTTLS + AUTH PLAIN: delivered';
    stop_nginx();

    # a certificate nobody trusts: not delivered, retried
    start(relay => 'localhost:' . sink_port(),
          extra => $tls_conf
                   . "    fluentai_smtp_trusted_certificate $dir/other.pem;\n");
    my $mark = error_log_mark();
    my $te2 = unique_email('untrusted');
    register('Untrusted', $te2, 'untrusted password');
    forgot($te2);
    ok wait_outbox($te2, 'attempts >= 1 AND last_error IS NOT NULL'),
        'untrusted certificate: not delivered, retry recorded';
    like error_log_since($mark), qr/certificate verify error/,
        '... certificate verify error logged';
    ok no_mail_for($tls, $te2, 0.5), '... no mail';
    stop_nginx();
    stop_sink($tls);
}

# leave nothing pending for the suites after this one
psql("UPDATE fluentai_mail_outbox SET failed_at = now(), seed = NULL,"
     . " last_error = 'test cleanup' WHERE sent_at IS NULL"
     . ' AND failed_at IS NULL');

# housekeeping: fluentai_mail_purge() deletes what is done
psql("SELECT fluentai_mail_purge(interval '0 seconds')");
is psql('SELECT count(*) FROM fluentai_mail_outbox'), 0,
    'fluentai_mail_purge: sent and failed rows deleted';
is psql('SELECT count(*) FROM fluentai_email_tokens WHERE used_at IS NOT NULL'
        . ' OR expires_at < now()'), 0,
    'fluentai_mail_purge: used and expired tokens deleted';

done_testing;
