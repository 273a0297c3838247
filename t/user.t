#!/usr/bin/perl
# PUT /user/profile and POST /user/change-password, end to end (scenario
# style: tokens carried between requests, database rows checked with psql).
#
#   t/run-suites t/user.t
#
# Covers the contract sections "PUT /user/profile", "POST
# /user/change-password" and the validation table: every field alone and
# together, null clearing, each 422 rule with its details entry, bad input
# never reaching the database, 401s, session revocation by a password
# change, the stored argon2id parameters, and two races (concurrent
# profile updates, concurrent password changes of one user).

use strict;
use warnings;
use utf8;

use Test::More;
use FluentAI::Test qw(:DEFAULT bearer claims new_user);
use MIME::Base64 qw(decode_base64url);
use POSIX ();

binmode Test::More->builder->$_, ':encoding(UTF-8)'
    for qw(output failure_output todo_output);

# psql's output and bound values are UTF-8 whatever the locale
$ENV{PGCLIENTENCODING} = 'UTF8';

my $HASH_PREFIX = '$argon2id$v=19$m=1024,t=1,p=1$';   # the test config

my %CONF = (
    main_config => fluentai_main_config(),
    http_config => fluentai_http_config(),
    config      => fluentai_locations(),
);

# ------------------------------------------------------------------ helpers


sub enc { my $s = shift; utf8::encode($s); return $s }



sub login {
    my ($email, $password) = @_;
    return api(POST => '/auth/login',
               json => { email => $email, password => $password });
}

# a second session of $u: { access, refresh, sid }
sub new_session {
    my ($u, $label) = @_;
    my $r = login($u->{email}, $u->{password});
    is $r->{status}, 200, "setup: $label";
    my $j = $r->{json} // {};
    return { access => $j->{access_token} // '',
             refresh => $j->{refresh_token} // '',
             sid => claims($j->{access_token})->{sid} // '' };
}

# the users row as a hash (undef for NULL); updated_at as full-precision text
sub user_row {
    my ($id) = @_;
    my $out = psql(q{SELECT json_build_object(
                         'id', id, 'email', email, 'name', name,
                         'avatar', avatar, 'bio', bio,
                         'is_email_verified', email_verified_at IS NOT NULL,
                         'hashed_password', hashed_password,
                         'updated_at', updated_at::text)::text
                       FROM users WHERE id = $1::uuid}, $id);
    return json_decode($out) // {};
}

# the user object the API must return for a row
sub as_user {
    my ($row) = @_;
    return { map { $_ => $row->{$_} }
             qw(id email name avatar bio is_email_verified) };
}

sub later {
    my ($before, $after) = @_;
    return psql('SELECT $1::timestamptz < $2::timestamptz',
                $before, $after) eq 't';
}

sub profile_status {
    my ($access) = @_;
    my $r = api(GET => '/user/profile', headers => bearer($access));
    return $r->{status} . ' ' . ($r->{json}{code} // '');
}

sub refresh_result {
    my ($token) = @_;
    my $r = api(POST => '/auth/refresh', json => { refresh_token => $token });
    return $r;
}

# "body/field" => type for every details entry, and whether every entry is
# well formed ({loc: ["body", field], msg: non-empty, type})
sub details_map {
    my ($j) = @_;
    my (%m, $n, $bad);
    for my $d (@{ ref $j->{details} eq 'ARRAY' ? $j->{details} : [] }) {
        $n++;
        my $loc = $d->{loc};
        if (ref $loc ne 'ARRAY' || @$loc != 2 || !defined $d->{msg}
            || !length $d->{msg} || !defined $d->{type})
        {
            $bad++;
            next;
        }
        $m{ join('/', @$loc) } = $d->{type};
    }
    return (\%m, $n // 0, $bad // 0);
}

# check a 422 validation_failed answer: details exactly %$want
# (field => type), one entry per field
sub is_422 {
    my ($r, $want, $label) = @_;
    is $r->{status}, 422, "$label: 422";
    my $j = $r->{json} // {};
    is_deeply [ @$j{qw(error code status_code)} ],
              [ 'validation_error', 'validation_failed', 422 ],
              "$label: error validation_error, code validation_failed";
    my ($m, $n, $bad) = details_map($j);
    is_deeply $m, { map { ("body/$_" => $want->{$_}) } keys %$want },
              "$label: details loc/type";
    is $n, scalar(keys %$want), "$label: one details entry per bad field";
    is $bad, 0, "$label: every details entry has loc, msg and type";
}

# fork one child per job; the children wait at a common gate, run their job
# (which returns a json-encodable value) and report it through a pipe
sub concurrently {
    my (@jobs) = @_;
    pipe(my $gate_r, my $gate_w) or die "pipe: $!";
    my @kids;
    for my $job (@jobs) {
        pipe(my $rd, my $wr) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $gate_w;
            close $rd;
            my $ignore = <$gate_r>;            # EOF when the gate opens
            my $res = eval { $job->() };
            $res = { status => -1, error => "$@" } unless defined $res;
            print {$wr} json_encode($res);
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [$pid, $rd];
    }
    close $gate_r;
    close $gate_w;                              # open the gate
    my @out;
    for my $k (@kids) {
        my ($pid, $rd) = @$k;
        my $s = do { local $/; <$rd> };
        close $rd;
        waitpid($pid, 0);
        push @out, json_decode($s // '')
                   // { status => -1, error => 'child gave no result' };
    }
    return @out;
}

start_nginx(%CONF) or BAIL_OUT('nginx did not start');

# ======================================================= PUT /user/profile

my $u = new_user('profile', name => 'Profile Owner', password => 'initial pass 1');
my $row = user_row($u->{id});
is_deeply as_user($row),
          { id => $u->{id}, email => $u->{email}, name => 'Profile Owner',
            avatar => undef, bio => undef,
            is_email_verified => JSON::PP::false() },
          'setup: fresh user row';

# one PUT that must succeed: response = full user object = the DB row,
# updated_at advanced, fields not sent unchanged
sub put_ok {
    my ($body, $expect, $label) = @_;
    my $before = user_row($u->{id});
    my $r = api(PUT => '/user/profile', headers => bearer($u->{access}),
                json => $body);
    is $r->{status}, 200, "$label: 200";
    my $want = { %{ as_user($before) }, %$expect };
    is_deeply $r->{json}, $want, "$label: response is the full user object";
    my $after = user_row($u->{id});
    is_deeply as_user($after), $want, "$label: DB row matches";
    ok later($before->{updated_at}, $after->{updated_at}),
       "$label: updated_at advanced";
    is $after->{hashed_password}, $before->{hashed_password},
       "$label: password hash untouched";
    return $r;
}

put_ok({ name => 'Renamed Owner' }, { name => 'Renamed Owner' },
       'PUT name alone (avatar, bio stay null)');
put_ok({ avatar => 'https://cdn.example.com/a/b.png?size=64' },
       { avatar => 'https://cdn.example.com/a/b.png?size=64' },
       'PUT avatar alone (name unchanged)');
put_ok({ bio => "Line one\nline two, \"quoted\" \x{1F600}" },
       { bio => "Line one\nline two, \"quoted\" \x{1F600}" },
       'PUT bio alone (name, avatar unchanged)');
put_ok({ name => 'All Three', avatar => 'http://example.org/me.jpg',
         bio => 'Together' },
       { name => 'All Three', avatar => 'http://example.org/me.jpg',
         bio => 'Together' },
       'PUT name, avatar and bio together');
put_ok({ confirmPassword => 'ignored', email => 'ignored@example.com' },
       {}, 'PUT with only unknown/unsettable fields: nothing changes');
put_ok({ avatar => undef }, { avatar => undef },
       'PUT avatar null clears it, bio kept');
put_ok({ avatar => 'https://example.com/x.png' },
       { avatar => 'https://example.com/x.png' }, 'PUT avatar again');
put_ok({ avatar => undef, bio => undef }, { avatar => undef, bio => undef },
       'PUT avatar and bio null clear both, name kept');
put_ok({ name => "  Trimmed Name \t" }, { name => 'Trimmed Name' },
       'PUT name is stored trimmed');

my $cyr100 = 'Ж' x 100;
put_ok({ name => $cyr100 }, { name => $cyr100 },
       'PUT Cyrillic name of 100 code points (200 bytes) accepted');
is psql('SELECT char_length(name) || \'/\' || octet_length(name)'
        . ' FROM users WHERE id = $1::uuid', $u->{id}),
   '100/200', 'Cyrillic name stored whole: 100 code points, 200 bytes';

my $bio500 = 'я' x 500;
put_ok({ bio => $bio500 }, { bio => $bio500 },
       'PUT bio of 500 Cyrillic code points (1000 bytes) accepted');
my $avatar500 = 'https://example.com/' . ('a' x 480);
is length($avatar500), 500, 'setup: a 500-byte avatar URL';
put_ok({ avatar => $avatar500 }, { avatar => $avatar500 },
       'PUT avatar of exactly 500 bytes accepted');
put_ok({ name => 'Stable Name', avatar => 'https://example.com/k.png',
         bio => 'Stable bio' },
       { name => 'Stable Name', avatar => 'https://example.com/k.png',
         bio => 'Stable bio' }, 'PUT known state before the 422 cases');

# ---- 422s: details per field, and the row (updated_at too) never changes

my @bad_cases = (
    [ 'name null', { name => undef },
      { name => 'type_error.none.not_allowed' } ],
    [ 'name of 1 char', { name => 'A' }, { name => 'value_error.name' } ],
    [ 'name of 1 char after trimming', { name => '  A  ' },
      { name => 'value_error.name' } ],
    [ 'empty name', { name => '' }, { name => 'value_error.name' } ],
    [ 'name of 101 code points', { name => 'a' x 101 },
      { name => 'value_error.name' } ],
    [ 'Cyrillic name of 101 code points', { name => 'Ж' x 101 },
      { name => 'value_error.name' } ],
    [ 'name with BEL', { name => "Ann\x07Lee" },
      { name => 'value_error.name' } ],
    [ 'name with an inner newline', { name => "Ann\nLee" },
      { name => 'value_error.name' } ],
    [ 'name with DEL', { name => "Ann\x7fLee" },
      { name => 'value_error.name' } ],
    [ 'name with a C1 control', { name => "Ann\x{9b}Lee" },
      { name => 'value_error.name' } ],
    [ 'name not a string', { name => 42 }, { name => 'type_error.str' } ],
    [ 'bio of 501 code points', { bio => 'я' x 501 },
      { bio => 'value_error.bio' } ],
    [ 'bio of 501 ASCII chars', { bio => 'b' x 501 },
      { bio => 'value_error.bio' } ],
    [ 'avatar javascript:alert(1)', { avatar => 'javascript:alert(1)' },
      { avatar => 'value_error.url' } ],
    [ 'avatar data:text/html,x', { avatar => 'data:text/html,x' },
      { avatar => 'value_error.url' } ],
    [ 'avatar ftp://x', { avatar => 'ftp://x' },
      { avatar => 'value_error.url' } ],
    [ 'avatar of 501 bytes', { avatar => $avatar500 . 'a' },
      { avatar => 'value_error.url' } ],
    [ 'avatar not a string', { avatar => [ 'https://x.example' ] },
      { avatar => 'type_error.str' } ],
    [ 'name, avatar and bio all bad',
      { name => 'x', avatar => 'ftp://x', bio => 'я' x 501 },
      { name => 'value_error.name', avatar => 'value_error.url',
        bio => 'value_error.bio' } ],
    [ 'name null and avatar javascript:',
      { name => undef, avatar => 'javascript:alert(1)' },
      { name => 'type_error.none.not_allowed',
        avatar => 'value_error.url' } ],
    [ 'valid name with a bad bio (no partial update)',
      { name => 'Would Be New', bio => 'b' x 501 },
      { bio => 'value_error.bio' } ],
    [ 'valid bio with a bad avatar (no partial update)',
      { bio => 'would be new', avatar => 'data:text/html,x' },
      { avatar => 'value_error.url' } ],
);

for my $c (@bad_cases) {
    my ($label, $body, $want) = @$c;
    my $before = user_row($u->{id});
    my $r = api(PUT => '/user/profile', headers => bearer($u->{access}),
                json => $body);
    is_422($r, $want, "PUT $label");
    is_deeply user_row($u->{id}), $before,
              "PUT $label: row unchanged, updated_at too";
}

# ---- 401s

{
    my $before = user_row($u->{id});
    my $r = api(PUT => '/user/profile', json => { name => 'No Token' });
    is $r->{status}, 401, 'PUT without a token: 401';
    is $r->{json}{code}, 'not_authenticated',
       'PUT without a token: code not_authenticated';
    is $r->{json}{error}, 'authentication_error',
       'PUT without a token: error authentication_error';
    is $r->{headers}{'www-authenticate'}, 'Bearer',
       'PUT without a token: WWW-Authenticate: Bearer';

    $r = api(PUT => '/user/profile',
             headers => { Authorization => 'Bearer not.a.jwt' },
             json => { name => 'Bad Token' });
    is "$r->{status} " . ($r->{json}{code} // ''), '401 invalid_token',
       'PUT with a malformed token: 401 invalid_token';

    is_deeply user_row($u->{id}), $before, 'PUT 401s: row unchanged';
}

{
    my $v = new_user('profile-revoked', name => 'Revoked Owner', password => 'initial pass 1');
    my $r = api(POST => '/auth/logout', headers => bearer($v->{access}));
    is $r->{status}, 200, 'setup: logout';
    is psql('SELECT revoked_at IS NOT NULL FROM sessions WHERE id = $1::uuid',
            $v->{sid}), 't', 'setup: the session is revoked in the DB';
    my $before = user_row($v->{id});
    $r = api(PUT => '/user/profile', headers => bearer($v->{access}),
             json => { name => 'After Logout' });
    is $r->{status}, 401, 'PUT with a logged-out token: 401';
    is $r->{json}{code}, 'invalid_token',
       'PUT with a logged-out token: code invalid_token';
    like $r->{headers}{'www-authenticate'} // '', qr/^Bearer\b/,
         'PUT with a logged-out token: WWW-Authenticate Bearer challenge';
    is_deeply user_row($v->{id}), $before,
              'PUT with a logged-out token: row unchanged';

    # bad input is refused before the database is asked anything: even
    # the revoked session (only the database knows) gets the 422
    $r = api(PUT => '/user/profile', headers => bearer($v->{access}),
             json => { avatar => 'javascript:alert(1)' });
    is "$r->{status} " . ($r->{json}{code} // ''), '422 validation_failed',
       'PUT bad input with a logged-out token: 422, validation runs '
       . 'before any database access';
    is_deeply user_row($v->{id}), $before,
              'PUT bad input with a logged-out token: row unchanged';
}

# ---- concurrency: two writers, each writes name and bio together

{
    my $rounds = 10;
    my (@problems, %won);
    for my $i (1 .. $rounds) {
        my %val = map { $_ => { name => "Writer $_ round $i",
                                bio  => "bio of $_ round $i" } } qw(A B);
        my @res = concurrently(map {
            my $w = $_;
            sub {
                my $r = api(PUT => '/user/profile',
                            headers => bearer($u->{access}),
                            json => $val{$w});
                return { status => $r->{status}, json => $r->{json} };
            }
        } qw(A B));
        for my $k (0, 1) {
            my $w = (qw(A B))[$k];
            my $r = $res[$k];
            push @problems, "round $i writer $w: status $r->{status}"
                unless $r->{status} == 200;
            my $j = $r->{json} // {};
            push @problems, "round $i writer $w: response has name "
                . ($j->{name} // 'undef') . ', bio ' . ($j->{bio} // 'undef')
                unless ($j->{name} // '') eq $val{$w}{name}
                       && ($j->{bio} // '') eq $val{$w}{bio};
        }
        my $row = user_row($u->{id});
        my ($winner) = grep {
            ($row->{name} // '') eq $val{$_}{name}
            && ($row->{bio} // '') eq $val{$_}{bio}
        } qw(A B);
        if ($winner) {
            $won{$winner}++;
        } else {
            push @problems, "round $i: final row name '"
                . ($row->{name} // 'NULL') . "', bio '"
                . ($row->{bio} // 'NULL') . "' is not one whole request";
        }
        push @problems, "round $i: avatar changed"
            unless ($row->{avatar} // '') eq 'https://example.com/k.png';
    }
    is_deeply \@problems, [],
        "$rounds rounds of concurrent PUTs {name:A,bio:A} vs {name:B,bio:B}: "
        . 'both 200, each response its own values, final row always A/A or '
        . 'B/B, never mixed (observed: A last '
        . ($won{A} // 0) . ' times, B last ' . ($won{B} // 0) . ' times)';
}

# ================================================== reload between sections

# under TEST_NGINX_USE_HUP: tokens and the pool survive a SIGHUP
if ($ENV{TEST_NGINX_USE_HUP} && !$ENV{TEST_NGINX_USE_VALGRIND}) {
    ok reload_nginx(%CONF), 'reload (HUP) between the sections';
    is profile_status($u->{access}), '200 ', 'token still works after HUP';
}

# ================================================ POST /user/change-password

my $pw0 = 'first password 0';
my $pw1 = 'новый пароль один';          # any Unicode
my $pw2 = 'third_password_2';

my $p = new_user('chpw', name => 'Password Owner', password => $pw0);     # session S1
my $s2 = new_session($p, 'second login before the change (session S2)');
my $row0 = user_row($p->{id});
like $row0->{hashed_password}, qr/^\Q$HASH_PREFIX\E/,
     'setup: registration stored an argon2id hash with m=1024,t=1,p=1';

sub chpw {
    my ($access, $body) = @_;
    return api(POST => '/user/change-password',
               $access ? (headers => bearer($access)) : (),
               json => $body);
}

# ---- refused without touching anything

{
    my $r = chpw(undef, { currentPassword => $pw0, newPassword => $pw1 });
    is $r->{status}, 401, 'change-password without a token: 401';
    is $r->{json}{code}, 'not_authenticated',
       'change-password without a token: code not_authenticated';
    is $r->{headers}{'www-authenticate'}, 'Bearer',
       'change-password without a token: WWW-Authenticate: Bearer';

    $r = chpw($p->{access}, { currentPassword => $pw0,
                              newPassword => 'пароль1' });
    is_422($r, { newPassword => 'value_error.password' },
           'change-password newPassword of 7 code points (13 bytes)');

    $r = chpw($p->{access}, { current_password => $pw0,
                              new_password => 'short77' });
    is_422($r, { newPassword => 'value_error.password' },
           'change-password snake_case new_password of 7 chars '
           . '(loc names newPassword)');

    $r = chpw($p->{access}, { newPassword => $pw1 });
    is_422($r, { currentPassword => 'value_error.missing' },
           'change-password without currentPassword');

    $r = chpw($p->{access}, {});
    is_422($r, { currentPassword => 'value_error.missing',
                 newPassword => 'value_error.missing' },
           'change-password with an empty object');

    $r = chpw($p->{access}, { currentPassword => $pw0,
                              newPassword => 'x' x 129 });
    is_422($r, { newPassword => 'value_error.password' },
           'change-password newPassword of 129 chars');

    $r = chpw($p->{access}, { currentPassword => $pw0, newPassword => $pw0 });
    is $r->{status}, 422, 'change-password new = current: 422';
    is $r->{json}{code}, 'same_password',
       'change-password new = current: code same_password';
    my ($m) = details_map($r->{json} // {});
    ok exists $m->{'body/newPassword'},
       'change-password new = current: details name newPassword';

    $r = chpw($p->{access}, { currentPassword => 'wrong password 0',
                              newPassword => $pw1 });
    is $r->{status}, 401, 'change-password wrong current: 401';
    is $r->{json}{code}, 'current_password_incorrect',
       'change-password wrong current: code current_password_incorrect';
    is $r->{json}{error}, 'authentication_error',
       'change-password wrong current: error authentication_error';

    is_deeply user_row($p->{id}), $row0,
              'refused change-password requests: hash and updated_at '
              . 'unchanged';
    is profile_status($p->{access}), '200 ',
       'after the refusals the calling session still works';
    is profile_status($s2->{access}), '200 ',
       'after the refusals the other session still works';
    is login($p->{email}, $pw0)->{status}, 200,
       'after the refusals the current password still logs in';
    is login($p->{email}, $pw1)->{status}, 401,
       'after the refusals the proposed password does not';
}

# ---- success, camelCase

{
    my $r = chpw($p->{access}, { currentPassword => $pw0,
                                 newPassword => $pw1,
                                 confirmPassword => $pw1 });
    is $r->{status}, 200, 'change-password camelCase: 200';
    is_deeply $r->{json},
              { data => {}, message => 'Password updated successfully',
                success => JSON::PP::true },
              'change-password camelCase: body exactly {data: {}, message, '
              . 'success: true}';
    ok ref $r->{json}{success} && $r->{json}{success} eq '1'
       && JSON::PP::is_bool($r->{json}{success}),
       'change-password camelCase: success is the JSON boolean true';

    my $row1 = user_row($p->{id});
    like $row1->{hashed_password}, qr/^\Q$HASH_PREFIX\E[A-Za-z0-9+\/]+\$[A-Za-z0-9+\/]+\z/,
         'new hash is argon2id with the configured m=1024,t=1,p=1';
    isnt $row1->{hashed_password}, $row0->{hashed_password},
         'the stored hash changed';
    ok later($row0->{updated_at}, $row1->{updated_at}),
       'users.updated_at advanced';
    is_deeply as_user($row1), as_user($row0), 'profile fields untouched';

    $r = login($p->{email}, $pw0);
    is "$r->{status} " . ($r->{json}{code} // ''), '401 invalid_credentials',
       'old password no longer logs in: 401 invalid_credentials';
    $r = login($p->{email}, $pw1);
    is $r->{status}, 200, 'new (Cyrillic) password logs in';

    is profile_status($s2->{access}), '401 invalid_token',
       'the other session S2: access token dead (401 invalid_token)';
    $r = refresh_result($s2->{refresh});
    is "$r->{status} " . ($r->{json}{code} // ''),
       '401 invalid_refresh_token',
       'the other session S2: refresh token dead (401 invalid_refresh_token)';
    is psql('SELECT revoke_reason FROM sessions WHERE id = $1::uuid',
            $s2->{sid}), 'password_changed',
       'S2 revoked in the DB with reason password_changed';

    is profile_status($p->{access}), '200 ',
       'the calling session S1: access token still works';
    is psql('SELECT revoked_at IS NULL FROM sessions WHERE id = $1::uuid',
            $p->{sid}), 't', 'S1 not revoked in the DB';
    $r = refresh_result($p->{refresh});
    is $r->{status}, 200, 'the calling session S1: refresh token refreshes';
    my $new_access = $r->{json}{access_token} // '';
    $p->{refresh} = $r->{json}{refresh_token} // '';
    is profile_status($new_access), '200 ',
       'S1: the refreshed access token works';
    $p->{access} = $new_access;
}

# ---- success, snake_case; the session opened after the first change dies

{
    my $s3 = new_session({ %$p, password => $pw1 },
                         'login with the new password (session S3)');
    my $before = user_row($p->{id});
    my $r = chpw($p->{access}, { current_password => $pw1,
                                 new_password => $pw2 });
    is $r->{status}, 200, 'change-password snake_case: 200';
    is_deeply $r->{json},
              { data => {}, message => 'Password updated successfully',
                success => JSON::PP::true },
              'change-password snake_case: body exactly as specified';
    my $after = user_row($p->{id});
    like $after->{hashed_password}, qr/^\Q$HASH_PREFIX\E/,
         'change-password snake_case: argon2id m=1024,t=1,p=1';
    isnt $after->{hashed_password}, $before->{hashed_password},
         'change-password snake_case: hash changed';
    is login($p->{email}, $pw1)->{status}, 401,
       'change-password snake_case: the previous password fails';
    is login($p->{email}, $pw2)->{status}, 200,
       'change-password snake_case: the new password logs in';
    is profile_status($s3->{access}), '401 invalid_token',
       'change-password snake_case: session S3 revoked';
    is profile_status($p->{access}), '200 ',
       'change-password snake_case: calling session still valid';

    # a revoked session: bad input is still refused before the database
    $r = chpw($s3->{access}, { currentPassword => $pw2,
                               newPassword => 'short' });
    is "$r->{status} " . ($r->{json}{code} // ''), '422 validation_failed',
       'change-password bad input with a revoked token: 422 (validated '
       . 'before any database access)';
    $r = chpw($s3->{access}, { currentPassword => $pw2,
                               newPassword => 'another password 3' });
    is "$r->{status} " . ($r->{json}{code} // ''), '401 invalid_token',
       'change-password with a revoked token: 401 invalid_token';
    is_deeply user_row($p->{id}), $after,
              'change-password with a revoked token: row unchanged';
}

# ---- concurrency: two sessions of one user change the password at once

for my $round (1 .. 3) {
    my $pw = "shared current $round";
    my $q = new_user("chpw-race$round", name => 'Race Owner', password => $pw);
    my $sb = new_session($q, "race $round: second session");
    my %sess = (A => $q, B => $sb);
    my %new = (A => "new password A$round", B => "new password B$round");

    my @res = concurrently(map {
        my $w = $_;
        sub {
            my $r = chpw($sess{$w}{access},
                         { currentPassword => $pw,
                           newPassword => $new{$w} });
            return { status => $r->{status}, code => $r->{json}{code} };
        }
    } qw(A B));
    my %out = (A => $res[0], B => $res[1]);
    my $seen = join ', ', map {
        "$_ " . $out{$_}{status}
        . ($out{$_}{code} ? " $out{$_}{code}" : '')
    } qw(A B);

    my @winners = grep { $out{$_}{status} == 200 } qw(A B);
    is scalar(@winners), 1,
       "race $round: exactly one change-password succeeds (observed: $seen)";
    my $w = $winners[0] // 'A';
    my $l = $w eq 'A' ? 'B' : 'A';
    is $out{$l}{status} . ' '
       . (($out{$l}{code} // '') =~ /^(?:invalid_token|current_password_incorrect)\z/
          ? 'ok' : ($out{$l}{code} // '')),
       '401 ok',
       "race $round: the other gets 401 invalid_token or "
       . "current_password_incorrect (observed: $seen)";

    my %login = map { $_ => login($q->{email}, $new{$_})->{status} } qw(A B);
    is_deeply [ sort map { "$_ $login{$_}" } qw(A B) ],
              [ sort "$w 200", "$l 401" ],
              "race $round: exactly one new password logs in, the winner's "
              . "($w; observed logins: A $login{A}, B $login{B})";
    is login($q->{email}, $pw)->{status}, 401,
       "race $round: the old password no longer logs in";
    is profile_status($sess{$w}{access}), '200 ',
       "race $round: the winner's session ($w) stays valid";
    is profile_status($sess{$l}{access}), '401 invalid_token',
       "race $round: the loser's session ($l) is revoked";
    like user_row($q->{id})->{hashed_password}, qr/^\Q$HASH_PREFIX\E/,
         "race $round: stored hash is argon2id m=1024,t=1,p=1";
}

stop_nginx();
done_testing();
