# Scenario tests of the auth endpoints against the real test database:
# POST /auth/register, /auth/login, /auth/refresh, /auth/logout,
# GET /auth/profile and /user/profile; every success and error path of the
# contract, sessions and refresh tokens in the database, password rehashing
# (legacy bcrypt, outdated argon2id parameters), concurrency (one email, one
# refresh token), hashing off the event loop and the full-queue 503.
#
# Phases (each its own nginx configuration; under TEST_NGINX_USE_HUP the
# server is reloaded between them):
#   A  argon2id m=2048, fluentai_refresh_token_short_ttl 2h
#   B  the standard test configuration (m=1024 t=1 p=1): most checks
#   C  slow hashing on a one-thread pool: /health stays fast
#   D  slow hashing, one thread, max_queue=1: 503 overloaded
#
# Run: t/run-suites t/auth.t

use strict;
use warnings;

use Test::More;
use FluentAI::Test qw(:DEFAULT bearer);
use Digest::SHA qw(sha256_hex hmac_sha256 hmac_sha512);
use MIME::Base64 qw(encode_base64url decode_base64url);
use POSIX ();
use Time::HiRes ();

my $Valgrind = $Test::Nginx::Util::UseValgrind ? 1 : 0;
my $Hup      = $Test::Nginx::Util::UseHup ? 1 : 0;
my $Factor   = Test::Nginx::Util::timeout_factor();

my $UUID_RE    = qr/\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z/;
my $REFRESH_RE = qr/\A[A-Za-z0-9_-]{43}\z/;
my $LOGOUT     = { message => 'Successfully logged out',
                   success => JSON::PP::true() };

# --- the test JWT secret -----------------------------------------------------

my $Secret = do {
    my $f = data_dir() . '/jwt.key';
    open my $fh, '<:raw', $f or die "cannot read $f: $!\n";
    local $/;
    my $k = <$fh>;
    close $fh;
    $k =~ s/[\r\n]+\z//;
    $k;
};

# --- secrets we send: none may show up in the error log ---------------------

my (@Passwords, @Tokens);

sub password {
    my ($tag) = @_;
    my $p = sprintf 'Pw-%s-%d-%06d-zQ', $tag, $$, int rand 1_000_000;
    push @Passwords, $p;
    return $p;
}

sub remember_tokens {
    my ($j) = @_;
    return unless ref $j eq 'HASH';
    for my $k (qw(access_token refresh_token)) {
        push @Tokens, $j->{$k} if defined $j->{$k} && length $j->{$k} > 20;
    }
}

# --- small helpers -----------------------------------------------------------


sub register {
    my ($name, $email, $pw) = @_;
    my $r = api(POST => '/auth/register',
                json => { name => $name, email => $email, password => $pw });
    remember_tokens($r->{json});
    return $r;
}

sub login {
    my ($email, $pw, %extra) = @_;
    my $r = api(POST => '/auth/login',
                json => { email => $email, password => $pw, %extra });
    remember_tokens($r->{json});
    return $r;
}

sub refresh {
    my ($token) = @_;
    my $r = api(POST => '/auth/refresh', json => { refresh_token => $token });
    remember_tokens($r->{json});
    return $r;
}

sub profile {
    my ($path, $token) = @_;
    return api(GET => $path, headers => bearer($token));
}

# a new user with a session: { id, email, password, access, refresh, sid }
sub new_user {
    my ($tag) = @_;
    my $email = unique_email($tag);
    my $pw = password($tag);
    my $r = register("User $tag", $email, $pw);
    die "register $tag: $r->{status} $r->{body}\n" unless $r->{status} == 200;
    return { id => $r->{json}{user}{id}, email => $email, password => $pw,
             access => $r->{json}{access_token},
             refresh => $r->{json}{refresh_token},
             sid => jwt_payload($r->{json}{access_token})->{sid} };
}

# a further session of a user: { access, refresh, sid }
sub new_session {
    my ($u, %extra) = @_;
    my $r = login($u->{email}, $u->{password}, %extra);
    die "login $u->{email}: $r->{status} $r->{body}\n" unless $r->{status} == 200;
    return { access => $r->{json}{access_token},
             refresh => $r->{json}{refresh_token},
             sid => jwt_payload($r->{json}{access_token})->{sid} };
}

# the shape of every error: {error, code, message, status_code}
sub is_error {
    my ($r, $status, $code, $name) = @_;
    my $j = $r->{json} // {};
    my $cat = $status == 401 ? 'authentication_error'
            : $status == 422 ? 'validation_error'
            : $status == 503 ? 'service_unavailable'
            : 'http_error';
    my $ok = $r->{status} == $status
             && ($j->{code} // '') eq $code
             && ($j->{error} // '') eq $cat
             && ($j->{status_code} // 0) == $status
             && defined $j->{message} && length $j->{message};
    ok $ok, "$name: $status $code"
        or diag "got $r->{status}: $r->{body}";
    return $ok;
}

sub jwt_parts {
    my ($t) = @_;
    my @p = split /\./, $t // '', -1;
    return @p;
}

sub jwt_header  { json_decode(decode_base64url((jwt_parts($_[0]))[0] // '')) // {} }
sub jwt_payload { json_decode(decode_base64url((jwt_parts($_[0]))[1] // '')) // {} }

# craft a token: header/payload are hashrefs (JSON-encoded) or raw strings
sub make_jwt {
    my (%a) = @_;
    my $alg = $a{alg} // 'HS256';
    my $key = $a{key} // $Secret;
    my $h = ref $a{header} ? json_encode($a{header}) : $a{header};
    my $p = ref $a{payload} ? json_encode($a{payload}) : $a{payload};
    my $in = encode_base64url($h) . '.' . encode_base64url($p);
    my $sig = $alg eq 'HS256' ? encode_base64url(hmac_sha256($in, $key))
            : $alg eq 'HS512' ? encode_base64url(hmac_sha512($in, $key))
            : '';
    return "$in.$sig";
}

sub claims_for {
    my ($u, $sid, %o) = @_;
    my $now = int time;
    return { sub => $u->{id}, sid => $sid, type => 'access',
             iat => $now, exp => $now + 600,
             jti => 'test-' . int(rand 1e9), %o };
}

my $HS256_HEADER = { alg => 'HS256', typ => 'JWT' };

sub session_row {
    my ($sid) = @_;
    my $row = psql(q{SELECT revoked_at IS NOT NULL, coalesce(revoke_reason, ''),
                            remember,
                            extract(epoch FROM expires_at - now())::bigint
                       FROM sessions WHERE id = $1}, $sid);
    my ($rev, $reason, $remember, $left) = split /\|/, $row;
    return { revoked => ($rev // '') eq 't', reason => $reason,
             remember => $remember, left => $left };
}

sub token_row {
    my ($token) = @_;
    my $row = psql(q{SELECT session_id, used_at IS NOT NULL
                       FROM refresh_tokens WHERE hash = decode($1, 'hex')},
                   sha256_hex($token));
    return undef unless length $row;
    my ($sid, $used) = split /\|/, $row;
    return { sid => $sid, used => $used eq 't' };
}

sub stored_hash {
    my ($email) = @_;
    return psql('SELECT hashed_password FROM users WHERE email = $1', $email);
}

# --- concurrency: forked children, released at once --------------------------

# spawn(@coderefs): each child waits for the release, runs its job (which
# returns a hashref) and sends the result back as JSON.
sub spawn {
    my (@jobs) = @_;
    pipe(my $go_r, my $go_w) or die "pipe: $!";
    my @kids;
    for my $i (0 .. $#jobs) {
        pipe(my $rd, my $wr) or die "pipe: $!";
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            close $go_w;
            close $rd;
            my $b;
            sysread $go_r, $b, 1;      # EOF: released
            my $t0 = Time::HiRes::time();
            my $res = eval { $jobs[$i]->() };
            $res = { status => 0, error => "$@" } unless ref $res;
            $res->{t_start} = $t0;
            $res->{t_end} = Time::HiRes::time();
            syswrite $wr, json_encode($res);
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, { pid => $pid, fh => $rd };
    }
    close $go_r;
    close $go_w;                       # release all children
    return \@kids;
}

sub kids_running {
    my ($kids) = @_;
    my $n = 0;
    for my $k (@$kids) {
        next if $k->{done};
        if (waitpid($k->{pid}, POSIX::WNOHANG()) == $k->{pid}) {
            $k->{done} = 1;
        } else {
            $n++;
        }
    }
    return $n;
}

sub collect {
    my ($kids) = @_;
    my @res;
    for my $k (@$kids) {
        my $fh = $k->{fh};
        local $/;
        my $d = <$fh>;
        close $fh;
        waitpid($k->{pid}, 0) unless $k->{done};
        my $r = json_decode($d // '') // { status => 0, error => 'no result' };
        remember_tokens($r->{json});
        push @res, $r;
    }
    return @res;
}

sub concurrently { return collect(spawn(@_)) }

sub result_of {
    my ($r) = @_;
    return { status => $r->{status}, body => $r->{body}, json => $r->{json} };
}

# --- phases ------------------------------------------------------------------

my $Mark = 0;

sub phase_start {
    my (%cfg) = @_;
    $Mark = $Hup ? error_log_mark() : 0;
    start_nginx(main_config => $cfg{main_config} // fluentai_main_config(),
                http_config => $cfg{http_config} // fluentai_http_config(),
                config      => fluentai_locations())
        or BAIL_OUT('nginx did not start');
    my $r = api(GET => '/health');     # warms up the connection pool
    is $r->{status}, 200, "$cfg{name}: /health answers 200"
        or diag $r->{body};
}

sub phase_end {
    my ($name) = @_;
    my $log = error_log_since($Mark);

    my @leaked = grep { index($log, $_) >= 0 } @Passwords;
    ok !@leaked, "$name: no password sent appears in the error log"
        or diag "leaked: @leaked";

    my @ours = grep { /fluentai:/ } split /\n/, $log;
    my @tleak = grep { my $t = $_; grep { index($_, $t) >= 0 } @ours } @Tokens;
    ok !@tleak, "$name: no token appears in the module's own log lines ("
                . scalar(@Tokens) . " tokens checked)"
        or diag "leaked: @tleak";

    my $core = () = $log =~ /^.*"?Authorization: Bearer \S+.*$/mg;
    note "$name: nginx core debug lines showing an Authorization header: "
         . $core;

    if ($Hup) {
        my @bad = grep { /\[(?:alert|crit|emerg)\]/ } split /\n/, $log;
        ok !@bad, "$name: no [alert]/[crit]/[emerg] in the error log";
        diag $_ for @bad;
    } else {
        stop_nginx();
    }
}

# =============================================================================
# Phase A: argon2id m=2048, short session ttl 2h
# =============================================================================

phase_start(
    name => 'A',
    http_config => fluentai_http_config(
        password_hash => 'm=2048 t=1 p=1',
        extra => "    fluentai_refresh_token_short_ttl 2h;\n"),
);

my $OldParams = new_user('oldparams');
like stored_hash($OldParams->{email}), qr/\A\$argon2id\$v=19\$m=2048,t=1,p=1\$/,
    'A: hash stored with the configured m=2048';

{
    my $s = new_session($OldParams, remember => JSON::PP::false());
    my $row = session_row($s->{sid});
    is $row->{remember}, 'f', 'A: remember:false stored on the session';
    ok abs($row->{left} - 7200) <= 120 * $Factor,
        'A: remember:false session lasts fluentai_refresh_token_short_ttl (2h)'
        or diag "left: $row->{left}";

    # the short lifetime survives a refresh
    my $r = refresh($s->{refresh});
    is $r->{status}, 200, 'A: refresh of the short session';
    $row = session_row($s->{sid});
    ok abs($row->{left} - 7200) <= 120 * $Factor,
        'A: refreshed short session still ends after 2h'
        or diag "left: $row->{left}";
}

phase_end('A');

# =============================================================================
# Phase B: the standard configuration
# =============================================================================

# B tests the rotation without a reuse interval (with one: t/reuse.t)
phase_start(name => 'B', http_config => fluentai_http_config(
    extra => "    fluentai_refresh_reuse_interval 0;\n"));

# users for phases C and D (fast hashes now; those phases rehash them)
my @SlowUsers = map { new_user("slow$_") } 1 .. 2;
my @QueueUsers = map { new_user("queue$_") } 1 .. 4;

# --- register ----------------------------------------------------------------

my $Ann;
{
    my $email = unique_email('ann');
    my ($local, $domain) = split /@/, $email;
    my $sent = "  \u$local\@\U$domain\E \t";
    my $pw = password('ann');
    my $t0 = int time;
    my $r = register('Ann', $sent, $pw);
    my $t1 = int(time) + 1;
    is $r->{status}, 200, 'register: 200' or diag $r->{body};
    my $j = $r->{json} // {};

    is_deeply [sort keys %$j],
        [qw(access_token expires_in refresh_token token_type user)],
        'register: response fields';
    is $j->{token_type}, 'bearer', 'register: token_type bearer';
    ok defined $j->{expires_in} && $j->{expires_in} eq '1800'
       && $r->{body} =~ /"expires_in":1800[,}]/,
        'register: expires_in is the number 1800';
    like $j->{refresh_token} // '', $REFRESH_RE,
        'register: refresh_token is 43 base64url characters';

    my $u = $j->{user} // {};
    is_deeply [sort keys %$u], [qw(avatar bio email id is_email_verified name)],
        'register: user object fields';
    like $u->{id} // '', $UUID_RE, 'register: user id is a UUID';
    is $u->{email}, $email, 'register: email answered trimmed, lower-case';
    is $u->{name}, 'Ann', 'register: name';
    ok exists $u->{avatar} && !defined $u->{avatar}, 'register: avatar null';
    ok exists $u->{bio} && !defined $u->{bio}, 'register: bio null';
    like $r->{headers}{'content-type'} // '', qr{^application/json},
        'register: JSON content type';

    # the access token
    my @parts = jwt_parts($j->{access_token});
    is scalar @parts, 3, 'register: access token has three parts';
    my $h = jwt_header($j->{access_token});
    is_deeply [sort keys %$h], [qw(alg kid typ)], 'jwt header: alg, typ, kid';
    is $h->{alg}, 'HS256', 'jwt header: alg HS256';
    is $h->{typ}, 'JWT', 'jwt header: typ JWT';
    ok defined $h->{kid} && !ref $h->{kid} && length $h->{kid},
        'jwt header: kid is a non-empty string';
    is $parts[2], encode_base64url(hmac_sha256("$parts[0].$parts[1]", $Secret)),
        'jwt: HMAC-SHA256 signature with the configured secret';

    my $p = jwt_payload($j->{access_token});
    is_deeply [sort keys %$p], [qw(exp iat jti sid sub type)],
        'jwt payload: sub, sid, type, iat, exp, jti';
    is $p->{sub}, $u->{id}, 'jwt payload: sub is the user id';
    like $p->{sid} // '', $UUID_RE, 'jwt payload: sid is a UUID';
    is $p->{type}, 'access', 'jwt payload: type access';
    ok $p->{iat} >= $t0 - 2 && $p->{iat} <= $t1 + 2,
        'jwt payload: iat is now' or diag "iat $p->{iat}, now $t0..$t1";
    is $p->{exp}, $p->{iat} + 1800, 'jwt payload: exp = iat + 1800';
    ok defined $p->{jti} && length $p->{jti}, 'jwt payload: jti';

    # the database
    my $row = psql(q{SELECT id, email, name, avatar IS NULL, bio IS NULL,
                            is_active FROM users WHERE lower(email) = $1},
                   $email);
    is $row, "$u->{id}|$email|Ann|t|t|t",
        'register: users row, email stored trimmed and lower-case';
    like stored_hash($email), qr/\A\$argon2id\$v=19\$m=1024,t=1,p=1\$/,
        'register: argon2id hash with the configured parameters';

    is psql('SELECT count(*) FROM sessions WHERE user_id = $1', $u->{id}), 1,
        'register: one session';
    my $s = session_row($p->{sid});
    ok !$s->{revoked}, 'register: the session of the token is active';
    is $s->{remember}, 't', 'register: session remembered';
    ok abs($s->{left} - 7 * 86400) <= 120 * $Factor,
        'register: session lasts 7 days' or diag "left: $s->{left}";
    my $t = token_row($j->{refresh_token});
    ok $t && $t->{sid} eq $p->{sid} && !$t->{used},
        'register: refresh_tokens row (sha256 of the token) for the session';

    my $found = psql(q{SELECT (SELECT count(*) FROM users x
                                WHERE strpos(x::text, $1) > 0)
                            + (SELECT count(*) FROM sessions x
                                WHERE strpos(x::text, $1) > 0)
                            + (SELECT count(*) FROM refresh_tokens x
                                WHERE strpos(x::text, $1) > 0
                                   OR position(convert_to($1, 'UTF8')
                                               IN x.hash) > 0)},
                     $j->{refresh_token});
    is $found, 0, 'register: the refresh token is not stored in plain text';
    $found = psql(q{SELECT (SELECT count(*) FROM sessions x
                             WHERE strpos(x::text, $1) > 0)
                         + (SELECT count(*) FROM refresh_tokens x
                             WHERE strpos(x::text, $1) > 0)},
                  $j->{access_token});
    is $found, 0, 'register: the access token is not stored either';
    unlike stored_hash($email), qr/\Q$pw\E/, 'register: password not stored';

    # it works
    my $pr = profile('/auth/profile', $j->{access_token});
    is $pr->{status}, 200, 'register: the access token works';

    # the same email, other case
    $r = register('Ann Two', uc($email), password('ann2'));
    is_error($r, 409, 'email_exists', 'register: same email in upper case');
    $r = register('Ann Three', " $email", password('ann3'));
    is_error($r, 409, 'email_exists', 'register: same email with a space');
    is psql('SELECT count(*) FROM users WHERE lower(email) = $1', $email), 1,
        'register: still one user with that email';

    $Ann = { id => $u->{id}, email => $email, password => $pw,
             access => $j->{access_token}, refresh => $j->{refresh_token},
             sid => $p->{sid}, user => $u };
}

# --- register: validation (the details of each rule are tested elsewhere) --

{
    my $r = register('Bo', 'not-an-email', password('bo'));
    is_error($r, 422, 'validation_failed', 'register: bad email');
    is_deeply [map { $_->{loc} } @{ $r->{json}{details} // [] }],
        [['body', 'email']], 'register: details name the email';

    $r = api(POST => '/auth/register', json => {});
    is_error($r, 422, 'validation_failed', 'register: empty object');
    is_deeply [sort map { $_->{loc}[1] } @{ $r->{json}{details} // [] }],
        [qw(email name password)], 'register: details list every field';

    $r = api(POST => '/auth/register', body => '{"name":',
             headers => { 'Content-Type' => 'application/json' });
    is_error($r, 400, 'invalid_json', 'register: broken JSON');
}

# --- register: 20 concurrent registrations of one email -----------------------

{
    my $email = unique_email('race');
    my @res = concurrently(map {
        my $i = $_;
        sub {
            result_of(api(POST => '/auth/register',
                          json => { name => "Racer $i",
                                    email => ($i % 2 ? uc $email : $email),
                                    password => "Pw-race-$$-zQ" }));
        }
    } 1 .. 20);
    push @Passwords, "Pw-race-$$-zQ";
    my %by;
    $by{ $_->{status} }++ for @res;
    is $by{200} // 0, 1, 'register race: exactly one 200'
        or diag explain \%by;
    is $by{409} // 0, 19, 'register race: 19 409'
        or diag explain \%by;
    is scalar(grep { $_->{status} == 409
                     && ($_->{json}{code} // '') eq 'email_exists' } @res), 19,
        'register race: the 409s are email_exists';
    is psql('SELECT count(*) FROM users WHERE lower(email) = $1', $email), 1,
        'register race: one user in the database';
    my ($win) = grep { $_->{status} == 200 } @res;
    if ($win) {
        my $uid = $win->{json}{user}{id};
        is psql('SELECT count(*) FROM sessions WHERE user_id = $1', $uid), 1,
            'register race: the winner has one session';
        is profile('/user/profile', $win->{json}{access_token})->{status}, 200,
            'register race: the winner\'s token works';
    } else {
        fail('register race: a winner') for 1 .. 2;
    }
}

# --- login -------------------------------------------------------------------

{
    my $sessions0 = psql('SELECT count(*) FROM sessions WHERE user_id = $1',
                         $Ann->{id});
    my $r = login("  \U$Ann->{email}\E ", $Ann->{password});
    is $r->{status}, 200, 'login: 200 (email in upper case, with spaces)'
        or diag $r->{body};
    my $j = $r->{json} // {};
    is_deeply [sort keys %$j],
        [qw(access_token expires_in refresh_token token_type user)],
        'login: response fields';
    is $j->{token_type}, 'bearer', 'login: token_type';
    is $j->{expires_in}, 1800, 'login: expires_in';
    like $j->{refresh_token} // '', $REFRESH_RE, 'login: refresh token';
    isnt $j->{refresh_token}, $Ann->{refresh}, 'login: a new refresh token';
    is_deeply $j->{user}, $Ann->{user}, 'login: the user object';
    my $p = jwt_payload($j->{access_token});
    is $p->{sub}, $Ann->{id}, 'login: jwt sub';
    is $p->{type}, 'access', 'login: jwt type';
    is $p->{exp} - $p->{iat}, 1800, 'login: jwt exp = iat + 1800';
    is_deeply jwt_header($j->{access_token}), jwt_header($Ann->{access}),
        'login: same jwt header (alg, typ, kid) as register';
    isnt $p->{sid}, $Ann->{sid}, 'login: a new session id';
    is psql('SELECT count(*) FROM sessions WHERE user_id = $1', $Ann->{id}),
        $sessions0 + 1, 'login: a new sessions row';
    my $s = session_row($p->{sid});
    ok !$s->{revoked} && $s->{remember} eq 't'
       && abs($s->{left} - 7 * 86400) <= 120 * $Factor,
        'login: active 7-day session' or diag explain $s;
    my $t = token_row($j->{refresh_token});
    ok $t && $t->{sid} eq $p->{sid} && !$t->{used},
        'login: refresh_tokens row for the session';
    is profile('/auth/profile', $j->{access_token})->{status}, 200,
        'login: the access token works';
    is profile('/auth/profile', $Ann->{access})->{status}, 200,
        'login: the register session still works too';

    # explicit remember: true
    my $s2 = new_session($Ann, remember => JSON::PP::true());
    my $row = session_row($s2->{sid});
    ok $row->{remember} eq 't' && abs($row->{left} - 7 * 86400) <= 120 * $Factor,
        'login: remember:true gives 7 days' or diag explain $row;

    # remember: false, default fluentai_refresh_token_short_ttl (1 day)
    my $s3 = new_session($Ann, remember => JSON::PP::false());
    $row = session_row($s3->{sid});
    is $row->{remember}, 'f', 'login: remember:false stored';
    ok abs($row->{left} - 86400) <= 120 * $Factor,
        'login: remember:false session lasts 1 day' or diag explain $row;

    $r = login($Ann->{email}, $Ann->{password}, remember => 'yes');
    is_error($r, 422, 'validation_failed', 'login: remember not a boolean');
}

# --- login: failures ---------------------------------------------------------

my $InvalidCredentialsBody;
{
    my $n0 = psql('SELECT count(*) FROM sessions WHERE user_id = $1', $Ann->{id});
    my $wrong = login($Ann->{email}, password('wrong'));
    is_error($wrong, 401, 'invalid_credentials', 'login: wrong password');

    my $unknown = login(unique_email('nobody'), password('nobody'));
    is_error($unknown, 401, 'invalid_credentials', 'login: unknown email');
    is $unknown->{body}, $wrong->{body},
        'login: unknown email and wrong password give byte-identical bodies';
    $InvalidCredentialsBody = $wrong->{body};

    my $case = login($Ann->{email}, uc $Ann->{password});
    is_error($case, 401, 'invalid_credentials',
             'login: the password is case-sensitive');

    is psql('SELECT count(*) FROM sessions WHERE user_id = $1', $Ann->{id}),
        $n0, 'login: failed logins create no session';

    my $r = api(POST => '/auth/login', json => { email => $Ann->{email} });
    is_error($r, 422, 'validation_failed', 'login: no password');
    $r = api(POST => '/auth/login', body => '[1,2]',
             headers => { 'Content-Type' => 'application/json' });
    is_error($r, 400, 'invalid_json', 'login: a JSON array');
}

# --- login: inactive user ----------------------------------------------------

{
    my $u = new_user('inactive');
    psql('UPDATE users SET is_active = false WHERE id = $1', $u->{id});
    my $r = login($u->{email}, $u->{password});
    is_error($r, 401, 'invalid_credentials',
             'inactive user: login with the right password');
    is $r->{body}, $InvalidCredentialsBody,
        'inactive user: the same body as a wrong password';
    $r = refresh($u->{refresh});
    is_error($r, 401, 'invalid_refresh_token', 'inactive user: refresh');
    ok !token_row($u->{refresh})->{used},
        'inactive user: the refresh token was not rotated';
    is psql('SELECT count(*) FROM sessions WHERE user_id = $1', $u->{id}), 1,
        'inactive user: no new session';
}

# --- login: legacy bcrypt ----------------------------------------------------

sub bcrypt_hash {
    my ($pw, $prefix) = @_;
    my @a = ('.', '/', 'A' .. 'Z', 'a' .. 'z', '0' .. '9');
    # the 22nd salt character carries 2 bits: one of . O e u
    my $salt = join('', map { $a[rand @a] } 1 .. 21) . (qw(. O e u))[rand 4];
    my $h = crypt($pw, "$prefix$salt");
    return $h if defined $h && $h =~ /\A\Q$prefix$salt\E[.\/A-Za-z0-9]{31}\z/;
    # fallback: python's crypt module (the same libcrypt)
    $h = `python3 -c 'import crypt,sys; print(crypt.crypt(sys.argv[1], sys.argv[2]))' '$pw' '$prefix$salt' 2>/dev/null`;
    chomp $h if defined $h;
    return $h if defined $h && $h =~ /\A\Q$prefix$salt\E[.\/A-Za-z0-9]{31}\z/;
    return undef;
}

for my $prefix ('$2b$04$', '$2a$05$') {
    my $email = unique_email('legacy');
    my $pw = password('legacy');
    my $hash = bcrypt_hash($pw, $prefix);
    SKIP: {
        skip "no bcrypt ($prefix) in this system's crypt()", 9 unless $hash;
        psql(q{INSERT INTO users (email, name, hashed_password)
               VALUES ($1, 'Legacy', $2)}, $email, $hash);

        my $r = login($email, password('legacy-wrong'));
        is_error($r, 401, 'invalid_credentials',
                 "bcrypt $prefix: wrong password");
        is stored_hash($email), $hash,
            "bcrypt $prefix: not rehashed after a failed login";

        $r = login($email, $pw);
        is $r->{status}, 200, "bcrypt $prefix: login" or diag $r->{body};
        is $r->{json}{user}{email}, $email, "bcrypt $prefix: the user";
        my $new = stored_hash($email);
        like $new, qr/\A\$argon2id\$v=19\$m=1024,t=1,p=1\$/,
            "bcrypt $prefix: rehashed to argon2id after the login";

        $r = login($email, $pw);
        is $r->{status}, 200, "bcrypt $prefix: login again with the new hash";
        is stored_hash($email), $new,
            "bcrypt $prefix: a current hash is not rehashed again";
        is login($email, password('legacy-wrong2'))->{status}, 401,
            "bcrypt $prefix: a wrong password still fails";
        is profile('/auth/profile', $r->{json}{access_token})->{status}, 200,
            "bcrypt $prefix: the session works";
    }
}

# --- login: argon2id with outdated parameters (from phase A) ----------------

{
    my $before = stored_hash($OldParams->{email});
    my $r = login($OldParams->{email}, $OldParams->{password});
    is $r->{status}, 200, 'argon2id m=2048: login under m=1024'
        or diag $r->{body};
    my $after = stored_hash($OldParams->{email});
    like $after, qr/\A\$argon2id\$v=19\$m=1024,t=1,p=1\$/,
        'argon2id m=2048: rehashed with the current parameters';
    isnt $after, $before, 'argon2id m=2048: the hash changed';
    $r = login($OldParams->{email}, $OldParams->{password});
    is $r->{status}, 200, 'argon2id m=2048: login again';
    is stored_hash($OldParams->{email}), $after,
        'argon2id m=2048: no rehash when the parameters are current';
}

# --- refresh -----------------------------------------------------------------

{
    my $u = new_user('refresh');
    my $r0 = $u->{refresh};

    # JSON body
    my $r = refresh($r0);
    is $r->{status}, 200, 'refresh (body): 200' or diag $r->{body};
    my $j = $r->{json} // {};
    is_deeply [sort keys %$j],
        [qw(access_token expires_in refresh_token token_type)],
        'refresh: response fields';
    is $j->{token_type}, 'bearer', 'refresh: token_type';
    is $j->{expires_in}, 1800, 'refresh: expires_in';
    like $j->{refresh_token} // '', $REFRESH_RE, 'refresh: refresh token';
    my $r1 = $j->{refresh_token};
    isnt $r1, $r0, 'refresh: the token rotated';
    my $p = jwt_payload($j->{access_token});
    is $p->{sub}, $u->{id}, 'refresh: new access token for the user';
    is $p->{sid}, $u->{sid}, 'refresh: ... and the same session';
    is $p->{exp} - $p->{iat}, 1800, 'refresh: exp = iat + 1800';
    ok token_row($r0)->{used}, 'refresh: the old token is marked used';
    my $t1 = token_row($r1);
    ok $t1 && $t1->{sid} eq $u->{sid} && !$t1->{used},
        'refresh: the new token is stored for the session';
    is profile('/auth/profile', $j->{access_token})->{status}, 200,
        'refresh: the new access token works';

    # query parameter, empty body
    $r = api(POST => "/auth/refresh?refresh_token=$r1", body => '');
    remember_tokens($r->{json});
    is $r->{status}, 200, 'refresh (?refresh_token=): 200' or diag $r->{body};
    my $r2 = $r->{json}{refresh_token} // '';
    like $r2, $REFRESH_RE, 'refresh (query): a new token';
    ok $r2 ne $r1 && $r2 ne $r0, 'refresh (query): rotated';
    ok token_row($r1)->{used}, 'refresh (query): the old token is used';
    my $a2 = $r->{json}{access_token};
    is jwt_payload($a2)->{sid}, $u->{sid}, 'refresh (query): same session';

    # query parameter without a content type and no body at all
    $r = api(POST => "/auth/refresh?refresh_token=$r2");
    remember_tokens($r->{json});
    is $r->{status}, 200, 'refresh (query, no body): 200' or diag $r->{body};
    my $r3 = $r->{json}{refresh_token} // '';
    my $a3 = $r->{json}{access_token};
    ok token_row($r2)->{used}, 'refresh (query, no body): rotated';

    is psql('SELECT count(*) FROM refresh_tokens WHERE session_id = $1',
            $u->{sid}), 4, 'refresh: four tokens in the chain of the session';
    ok !session_row($u->{sid})->{revoked}, 'refresh: the session is active';

    # reuse of a rotated token revokes the session
    $r = refresh($r0);
    is_error($r, 401, 'refresh_token_reused', 'refresh: reuse of a rotated token');
    my $s = session_row($u->{sid});
    ok $s->{revoked}, 'refresh reuse: session revoked in the database';
    is $s->{reason}, 'refresh_token_reused', 'refresh reuse: revoke_reason';
    for my $path ('/auth/profile', '/user/profile') {
        is_error(profile($path, $a3), 401, 'invalid_token',
                 "refresh reuse: newest access token on $path");
        is_error(profile($path, $u->{access}), 401, 'invalid_token',
                 "refresh reuse: first access token on $path");
    }
    is_error(refresh($r3), 401, 'invalid_refresh_token',
             'refresh reuse: the newest refresh token is dead too');
    is psql('SELECT count(*) FROM refresh_tokens WHERE session_id = $1',
            $u->{sid}), 4, 'refresh reuse: no new token was stored';

    # unknown and malformed tokens
    my $unknown = encode_base64url(join '', map { chr rand 256 } 1 .. 32);
    is_error(refresh($unknown), 401, 'invalid_refresh_token',
             'refresh: an unknown well-formed token');
    is_error(refresh('short'), 401, 'invalid_refresh_token',
             'refresh: a malformed token');
    is_error(refresh($u->{access}), 401, 'invalid_refresh_token',
             'refresh: an access token as refresh token');
    $r = api(POST => "/auth/refresh?refresh_token=$unknown", body => '');
    is_error($r, 401, 'invalid_refresh_token', 'refresh: unknown token in the query');

    # no token at all
    $r = api(POST => '/auth/refresh', json => {});
    is_error($r, 422, 'validation_failed', 'refresh: no token');
    is_deeply [map { $_->{loc} } @{ $r->{json}{details} // [] }],
        [['body', 'refresh_token']], 'refresh: details name refresh_token';
    $r = api(POST => '/auth/refresh', json => { refresh_token => 42 });
    is_error($r, 422, 'validation_failed', 'refresh: token not a string');
}

# --- refresh: 20 concurrent refreshes of one token ----------------------------

{
    my $u = new_user('refrace');
    my $tok = $u->{refresh};
    my @res = concurrently(map {
        sub { result_of(api(POST => '/auth/refresh',
                            json => { refresh_token => $tok })) }
    } 1 .. 20);
    my %by;
    $by{ $_->{status} }++ for @res;
    is $by{200} // 0, 1, 'refresh race: exactly one 200' or diag explain \%by;
    is $by{401} // 0, 19, 'refresh race: 19 401' or diag explain \%by;
    is scalar(grep { $_->{status} == 401
                     && ($_->{json}{code} // '') =~
                        /\A(?:refresh_token_reused|invalid_refresh_token)\z/ }
              @res), 19,
        'refresh race: the losers get refresh_token_reused or invalid_refresh_token';
    is psql(q{SELECT count(*) FROM refresh_tokens
               WHERE session_id = $1 AND hash <> decode($2, 'hex')},
            $u->{sid}, sha256_hex($tok)), 1,
        'refresh race: exactly one successor token in the database';
    ok token_row($tok)->{used}, 'refresh race: the token is used';
    my ($win) = grep { $_->{status} == 200 } @res;
    ok $win && $win->{json}{refresh_token} =~ $REFRESH_RE
       && token_row($win->{json}{refresh_token}),
        'refresh race: the successor is the winner\'s token';
}

# --- logout ------------------------------------------------------------------

sub logout_ok {
    my ($r, $name) = @_;
    my $ok = $r->{status} == 200
             && ref $r->{json} eq 'HASH'
             && JSON::PP::is_bool($r->{json}{success});
    ok $ok && eq_hash($r->{json}, $LOGOUT),
        "$name: 200 {\"message\":\"Successfully logged out\",\"success\":true}"
        or diag "got $r->{status}: $r->{body}";
}

sub active_sessions {
    my ($uid) = @_;
    return psql(q{SELECT count(*) FROM sessions
                   WHERE user_id = $1 AND revoked_at IS NULL}, $uid);
}

{
    my $l = new_user('logout');
    my $l1 = new_session($l);
    my $l2 = new_session($l);
    my $l3 = new_session($l);
    my $m = new_user('bystander');
    my $m1 = new_session($m);

    # bearer: that session only
    my $r = api(POST => '/auth/logout', headers => bearer($l1->{access}));
    logout_ok($r, 'logout (bearer)');
    my $s = session_row($l1->{sid});
    ok $s->{revoked}, 'logout (bearer): the session is revoked';
    is $s->{reason}, 'logout', 'logout (bearer): revoke_reason logout';
    is active_sessions($l->{id}), 3, 'logout (bearer): the other sessions stay';
    for my $path ('/auth/profile', '/user/profile') {
        is_error(profile($path, $l1->{access}), 401, 'invalid_token',
                 "logout (bearer): its access token on $path");
    }
    is_error(refresh($l1->{refresh}), 401, 'invalid_refresh_token',
             'logout (bearer): its refresh token');
    is profile('/auth/profile', $l2->{access})->{status}, 200,
        'logout (bearer): another session of the user still works';

    # again: idempotent
    logout_ok(api(POST => '/auth/logout', headers => bearer($l1->{access})),
              'logout (bearer) again');

    # body refresh_token: that session
    $r = api(POST => '/auth/logout', json => { refresh_token => $l2->{refresh} });
    logout_ok($r, 'logout (refresh_token)');
    ok session_row($l2->{sid})->{revoked},
        'logout (refresh_token): the session is revoked';
    is_error(profile('/auth/profile', $l2->{access}), 401, 'invalid_token',
             'logout (refresh_token): its access token');
    is_error(refresh($l2->{refresh}), 401, 'invalid_refresh_token',
             'logout (refresh_token): its refresh token');
    is active_sessions($l->{id}), 2, 'logout (refresh_token): two sessions left';

    # {"all": true}: every session of the user, nobody else's
    $r = api(POST => '/auth/logout', headers => bearer($l3->{access}),
             json => { all => JSON::PP::true() });
    logout_ok($r, 'logout {"all": true}');
    is active_sessions($l->{id}), 0, 'logout all: no session of the user left';
    is_error(profile('/auth/profile', $l->{access}), 401, 'invalid_token',
             'logout all: the register session is gone too');
    is_error(refresh($l->{refresh}), 401, 'invalid_refresh_token',
             'logout all: its refresh token too');
    is active_sessions($m->{id}), 2, 'logout all: another user untouched';
    is profile('/auth/profile', $m1->{access})->{status}, 200,
        'logout all: another user\'s token works';

    # ?scope=all
    my $n = new_user('scope');
    my $n1 = new_session($n);
    $r = api(POST => '/auth/logout?scope=all', headers => bearer($n1->{access}));
    logout_ok($r, 'logout ?scope=all');
    is active_sessions($n->{id}), 0, 'logout ?scope=all: every session revoked';
    is_error(profile('/user/profile', $n->{access}), 401, 'invalid_token',
             'logout ?scope=all: the other session\'s token');
    is active_sessions($m->{id}), 2, 'logout ?scope=all: another user untouched';

    # all, named by the refresh token only
    my $q = new_user('allbyrefresh');
    my $q1 = new_session($q);
    $r = api(POST => '/auth/logout',
             json => { refresh_token => $q1->{refresh}, all => JSON::PP::true() });
    logout_ok($r, 'logout {"refresh_token", "all": true}');
    is active_sessions($q->{id}), 0,
        'logout all by refresh token: every session revoked';

    # no token, garbage tokens: still 200, nothing revoked
    logout_ok(api(POST => '/auth/logout'), 'logout without anything');
    logout_ok(api(POST => '/auth/logout', json => {}), 'logout with {}');
    logout_ok(api(POST => '/auth/logout',
                  headers => bearer('garbage.token.here')),
              'logout with a garbage bearer token');
    logout_ok(api(POST => '/auth/logout',
                  headers => { Authorization => 'Basic Zm9vOmJhcg==' }),
              'logout with Basic authorization');
    logout_ok(api(POST => '/auth/logout',
                  json => { refresh_token => 'garbage' }),
              'logout with a garbage refresh token');
    logout_ok(api(POST => '/auth/logout',
                  json => { refresh_token => encode_base64url('x' x 32) }),
              'logout with an unknown refresh token');
    logout_ok(api(POST => '/auth/logout', headers => bearer($m1->{refresh})),
              'logout with a refresh token as bearer');
    is active_sessions($m->{id}), 2,
        'logout with bad tokens: the bystander\'s sessions untouched';
}

# --- profile -----------------------------------------------------------------

{
    my $u = new_user('profile');
    my $other = new_user('profile-other');
    my $sid = $u->{sid};

    for my $path ('/auth/profile', '/user/profile') {
        my $r = profile($path, $u->{access});
        is $r->{status}, 200, "$path: 200 with a valid token";
        is_deeply $r->{json},
            { id => $u->{id}, email => $u->{email}, name => 'User profile',
              avatar => undef, bio => undef,
              is_email_verified => JSON::PP::false() },
            "$path: the user object";
        $r = api(GET => $path,
                 headers => { Authorization => "bearer $u->{access}" });
        is $r->{status}, 200, "$path: the auth scheme is case-insensitive";

        $r = api(GET => $path);
        is_error($r, 401, 'not_authenticated', "$path: no Authorization");
        like $r->{headers}{'www-authenticate'} // '', qr/\ABearer\b/,
            "$path: WWW-Authenticate: Bearer";

        for my $h ('Basic Zm9vOmJhcg==', 'Bearer', 'Token abc') {
            $r = api(GET => $path, headers => { Authorization => $h });
            is_error($r, 401, 'not_authenticated', "$path: Authorization: $h");
            like $r->{headers}{'www-authenticate'} // '', qr/\ABearer\b/,
                "$path: WWW-Authenticate with \"$h\"";
        }

        # a token crafted here with the test secret is accepted (so the
        # rejections below are about the one thing changed)
        my $good = make_jwt(header => $HS256_HEADER,
                            payload => claims_for($u, $sid));
        is profile($path, $good)->{status}, 200,
            "$path: a correctly crafted HS256 token is accepted";

        my %bad = (
            'alg none, unsigned' => make_jwt(
                alg => 'none', header => { alg => 'none', typ => 'JWT' },
                payload => claims_for($u, $sid)),
            'alg none, with an HS256 signature' => make_jwt(
                header => { alg => 'none', typ => 'JWT' },
                payload => claims_for($u, $sid)),
            'alg HS512 (signed with the right key)' => make_jwt(
                alg => 'HS512', header => { alg => 'HS512', typ => 'JWT' },
                payload => claims_for($u, $sid)),
            'alg HS384 header, HS256 signature' => make_jwt(
                header => { alg => 'HS384', typ => 'JWT' },
                payload => claims_for($u, $sid)),
            'signed with another key' => make_jwt(
                header => $HS256_HEADER, key => 'k' x 48,
                payload => claims_for($u, $sid)),
            'refresh token as access token' => $u->{refresh},
            'unknown session id' => make_jwt(
                header => $HS256_HEADER,
                payload => claims_for($u, '00000000-0000-4000-8000-000000000000')),
            'sid of another user\'s session' => make_jwt(
                header => $HS256_HEADER,
                payload => claims_for($u, $other->{sid})),
        );
        {
            # tampered payload: sub changed, signature kept
            my ($h, $p, $s) = jwt_parts($u->{access});
            my $claims = jwt_payload($u->{access});
            $claims->{sub} = $other->{id};
            $bad{'tampered payload (sub changed)'} =
                join '.', $h, encode_base64url(json_encode($claims)), $s;
            # tampered signature: one character changed
            my $s2 = $s;
            substr($s2, 5, 1) = substr($s2, 5, 1) eq 'A' ? 'B' : 'A';
            $bad{'tampered signature'} = join '.', $h, $p, $s2;
        }
        for my $name (sort keys %bad) {
            is_error(profile($path, $bad{$name}), 401, 'invalid_token',
                     "$path: $name");
        }

        # expiry: 30 s leeway
        my $now = int time;
        my $expired = make_jwt(header => $HS256_HEADER,
                               payload => claims_for($u, $sid,
                                   iat => $now - 1920, exp => $now - 120));
        $r = profile($path, $expired);
        is_error($r, 401, 'token_expired', "$path: expired 120 s ago");
        my $leeway = make_jwt(header => $HS256_HEADER,
                              payload => claims_for($u, $sid,
                                  iat => $now - 1810, exp => $now - 10));
        is profile($path, $leeway)->{status}, 200,
            "$path: expired 10 s ago is within the 30 s leeway";
    }

    # the same token for two users' data: the other user's token works
    is profile('/auth/profile', $other->{access})->{json}{id}, $other->{id},
        'profile: each token gives its own user';
}

phase_end('B');

# =============================================================================
# Phase C: slow hashing on one thread, the event loop stays free
# =============================================================================

my $Slow = $Valgrind ? 'm=16384 t=1 p=1' : 'm=65536 t=3 p=1';
my ($SlowM, $SlowT) = $Slow =~ /m=(\d+) t=(\d+)/;

phase_start(
    name => 'C',
    main_config => fluentai_main_config(threads => 1),
    http_config => fluentai_http_config(password_hash => $Slow),
);

{
    my @emails = map { unique_email("slowreg$_") } 1 .. 2;
    my $pw = password('slowreg');
    # the four hashes run one after another on one (niced) thread: on a
    # loaded machine the last answer can take longer than api()'s 10 s
    my $wait = 60 * $Factor;
    my @jobs = (
        (map { my $e = $_; sub {
            result_of(api(POST => '/auth/register', timeout => $wait,
                          json => { name => 'Slow', email => $e,
                                    password => $pw }))
        } } @emails),
        (map { my $u = $_; sub {
            result_of(api(POST => '/auth/login', timeout => $wait,
                          json => { email => $u->{email},
                                    password => $u->{password} }))
        } } @SlowUsers),
    );
    my $kids = spawn(@jobs);
    my @samples;
    my $deadline = Time::HiRes::time() + 60 * $Factor;
    while (kids_running($kids) && Time::HiRes::time() < $deadline) {
        my $t0 = Time::HiRes::time();
        my $r = api(GET => '/health');
        my $t1 = Time::HiRes::time();
        push @samples, { t0 => $t0, t1 => $t1, status => $r->{status} };
        Time::HiRes::sleep(0.005);
    }
    my @res = collect($kids);

    is scalar(grep { $_->{status} == 200 } @res), 4,
        'C: the 2 registrations and 2 logins all succeed'
        or diag explain [map { "$_->{status} $_->{body}" } @res];
    my ($first) = sort { $a <=> $b } map { $_->{t_start} } @res;
    my ($last) = sort { $b <=> $a } map { $_->{t_end} } @res;
    my @inflight = grep { $_->{t0} >= $first && $_->{t1} <= $last } @samples;
    note sprintf 'C: hashing window %.0f ms, %d /health samples in it',
        1000 * ($last - $first), scalar @inflight;
    # valgrind runs all threads on one serialised core: whether the event
    # loop gets to answer during a hash is valgrind's scheduling, not ours
    SKIP: {
        skip 'thread interleaving under valgrind', 1 if $Valgrind;
        ok @inflight >= 3,
            'C: /health was asked at least 3 times while hashing';
    }
    is scalar(grep { $_->{status} != 200 } @inflight), 0,
        'C: /health answered 200 while hashing';
    my ($max) = sort { $b <=> $a } map { $_->{t1} - $_->{t0} } @inflight;
    $max //= 0;
    SKIP: {
        skip 'timing under valgrind', 2 if $Valgrind;
        ok $last - $first >= 0.5,
            'C: the four hashes took a while (the slow parameters apply)'
            or diag sprintf '%.0f ms', 1000 * ($last - $first);
        # one stray scheduling hiccup is forgiven; hashing on the event
        # loop would hold every sample for up to a whole hash (~280 ms)
        my @slow = grep { $_->{t1} - $_->{t0} >= 0.1 } @inflight;
        ok @slow <= 1, 'C: /health answered within 100 ms while hashing'
            or diag sprintf 'slowest: %.1f ms, %d samples >= 100 ms',
                            1000 * $max, scalar @slow;
    }
    note sprintf 'C: slowest /health while hashing: %.1f ms', 1000 * $max;

    like stored_hash($emails[0]), qr/\A\$argon2id\$v=19\$m=$SlowM,t=$SlowT,p=1\$/,
        'C: the registration used the slow parameters';
    like stored_hash($SlowUsers[0]{email}),
        qr/\A\$argon2id\$v=19\$m=$SlowM,t=$SlowT,p=1\$/,
        'C: the login rehashed to the slow parameters';
}

phase_end('C');

# =============================================================================
# Phase D: one thread, max_queue=1: a full queue is 503 overloaded
# =============================================================================

phase_start(
    name => 'D',
    main_config => fluentai_main_config(threads => 1, max_queue => 1),
    http_config => fluentai_http_config(password_hash => $Slow),
);

{
    my $pw = password('queue-unknown');
    my @jobs = (
        (map { my $u = $_; sub {
            my $r = result_of(api(POST => '/auth/login',
                                  timeout => 60 * $Factor,
                                  json => { email => $u->{email},
                                            password => $u->{password} }));
            $r->{known} = 1;
            $r;
        } } @QueueUsers),
        (map { my $e = unique_email("queue-unknown$_"); sub {
            my $r = result_of(api(POST => '/auth/login',
                                  timeout => 60 * $Factor,
                                  json => { email => $e, password => $pw }));
            $r->{known} = 0;
            $r;
        } } 1 .. 2),
    );
    my @res = concurrently(@jobs);
    my @over = grep { $_->{status} == 503 } @res;
    note 'D: statuses: ' . join ' ', map { $_->{status} } @res;
    SKIP: {
        # under valgrind requests arrive one at a time, slower than a hash
        skip 'request arrival under valgrind is slower than hashing', 1
            if $Valgrind;
        ok @over >= 1, 'D: at least one 503 with a full queue'
            or diag explain [map { "$_->{status} $_->{body}" } @res];
    }
    is scalar(grep { ($_->{json}{code} // '') eq 'overloaded'
                     && ($_->{json}{error} // '') eq 'service_unavailable'
                     && ($_->{json}{status_code} // 0) == 503 } @over),
        scalar @over, 'D: every 503 is {error: service_unavailable, code: overloaded}';
    is scalar(grep { $_->{known} && $_->{status} != 200 && $_->{status} != 503 }
              @res), 0, 'D: right passwords give 200 or 503';
    is scalar(grep { !$_->{known} && $_->{status} != 401 && $_->{status} != 503 }
              @res), 0, 'D: unknown emails give 401 or 503';
    # the job that gets the thread may be an unknown email's (401): what
    # holds is that some request was served rather than refused
    ok scalar(grep { $_->{status} != 503 } @res) >= 1,
        'D: at least one answer is not 503 (a job got the thread)'
        or diag explain [map { "$_->{status} $_->{body}" } @res];
    is scalar(grep { $_->{status} >= 500 && $_->{status} != 503 } @res), 0,
        'D: no 500';

    # the queue drains: a login afterwards works
    my $r = login($QueueUsers[0]{email}, $QueueUsers[0]{password});
    is $r->{status}, 200, 'D: a login after the burst succeeds'
        or diag $r->{body};
}

phase_end('D');

stop_nginx() if $Hup;

done_testing();
