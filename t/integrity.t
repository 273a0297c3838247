#!/usr/bin/perl
# Session integrity: what ends a session stays ended (scenario style).
#
#   t/run-suites t/integrity.t
#   INTEGRITY_ROUNDS=100 t/run-suites t/integrity.t    # a longer race
#
# 1. A login in flight does not survive change-password: every round, 12
#    logins with the old password race one change-password; afterwards no
#    session opened with the old password works (profile, refresh), also
#    not those whose 200 arrived after change-password's (counted, noted).
#    Then the worst interleaving, forced: a lock on refresh_tokens stops
#    12 logins after they verified the old password, right before they
#    create their sessions; change-password runs to its 200; the lock goes.
#    Every one of those logins must fail (401), in every round.
# 3. A dead credential cannot end every session: with "all": true and no
#    bearer token, a rotated refresh token ends only its own session (as
#    presenting it to refresh would: reuse), a token of a logged-out or of
#    an expired session ends nothing, nor does an expired access token.
# 5. fluentai_session_max_lifetime (default 30 days): an older session
#    neither refreshes nor authenticates a call; a refresh never slides
#    the expiry, nor an access token's exp, past created_at + maximum.
# 6. Deactivation revokes: is_active = false revokes every session of the
#    user in the database (revoke_reason user_deactivated); setting it back
#    to true brings none back.
# 7. JWT: a kid that is not the current key's, an iat or nbf more than 30 s
#    in the future: 401 invalid_token; within the leeway: accepted.

use strict;
use warnings;

use Test::More;
use FluentAI::Test;
use FluentAI::Sec;
use Digest::SHA qw(hmac_sha256 sha256_hex);
use MIME::Base64 qw(encode_base64url);
use POSIX ();
use Time::HiRes qw(time sleep);

my $ROUNDS = $ENV{INTEGRITY_ROUNDS} // 40;
my $STEPS = $ENV{INTEGRITY_LOCKSTEP_ROUNDS} // 6;
my $LOGINS = 12;

# argon2id m=4096: a verify takes a few milliseconds, long enough for a
# login to be in flight while a change-password commits
start_nginx(main_config => fluentai_main_config(threads => 4),
            http_config => fluentai_http_config(
                password_hash => 'm=4096 t=1 p=1',
                extra => "    fluentai_database_pool size=32;\n"
                         . "    fluentai_database_timeout 30s;\n"),
            config      => fluentai_locations())
    or BAIL_OUT('nginx did not start');

sub profile_status {
    return api(GET => '/auth/profile', headers => bearer($_[0]))->{status};
}

sub refresh {
    return api(POST => '/auth/refresh', json => { refresh_token => $_[0] });
}

sub live_sessions {
    return psql(q{SELECT count(*) FROM sessions
                   WHERE user_id = $1 AND revoked_at IS NULL}, $_[0]);
}

# ------------------------------------------------ 1. login vs change-password

# Runs $code in a child; the child's answer comes back through a file as
# "<status> <time it arrived> <body>".
sub in_child {
    my ($file, $code) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $r = eval { $code->() } // { status => 599, body => "$@" };
        my $t = time;
        open my $fh, '>', $file or POSIX::_exit(1);
        print $fh "$r->{status} $t $r->{body}";
        close $fh;
        POSIX::_exit(0);
    }
    return $pid;
}

sub child_result {
    my ($file) = @_;
    open my $fh, '<', $file or return { status => 0 };
    local $/;
    my $s = <$fh>;
    my ($status, $t, $body) = $s =~ /^(\d+) (\S+) (.*)\z/s
        or return { status => 0 };
    return { status => $status, at => $t, json => json_decode($body) };
}

{
    my $u = new_user('race', 'Race-Pass-0-a1b2c3');
    my $keeper = new_session($u);   # the session that changes the password
    my $dir = "/tmp/fluentai-integrity-$$";
    mkdir $dir;

    my ($ok200, $late, $survivors, $changed) = (0, 0, 0, 0);
    my @survived;

    for my $round (1 .. $ROUNDS) {
        my $old = "Race-Pass-" . ($round - 1) . '-a1b2c3';
        my $new = "Race-Pass-$round-a1b2c3";
        my @pids;
        # the logins spread over 40 ms, change-password lands among them
        for my $i (1 .. $LOGINS) {
            push @pids, in_child("$dir/login-$i", sub {
                sleep(rand(0.04));
                login($u->{email}, $old);
            });
        }
        push @pids, in_child("$dir/change", sub {
            sleep(0.005 + rand(0.02));
            api(POST => '/user/change-password',
                headers => bearer($keeper->{access}),
                json => { currentPassword => $old, newPassword => $new });
        });
        waitpid $_, 0 for @pids;

        my $c = child_result("$dir/change");
        unless ($c->{status} == 200) {
            fail("round $round: change-password answered 200");
            diag explain $c;
            last;
        }
        $changed++;

        for my $i (1 .. $LOGINS) {
            my $l = child_result("$dir/login-$i");
            next unless $l->{status} == 200;
            $ok200++;
            $late++ if $l->{at} > $c->{at};
            my $access = $l->{json}{access_token};
            my $refresh = $l->{json}{refresh_token};
            my $p = profile_status($access);
            my $f = refresh($refresh)->{status};
            if ($p == 200 || $f == 200) {
                $survivors++;
                push @survived, "round $round login $i: profile $p, refresh $f"
                                . ($l->{at} > $c->{at} ? ' (answered after'
                                   . ' change-password)' : '');
            }
        }
        unlink glob("$dir/*");
    }
    rmdir $dir;

    is $changed, $ROUNDS, "1: $ROUNDS rounds of $LOGINS logins racing one"
                          . ' change-password';
    is $survivors, 0, '1: no session opened with the old password survives'
                      . ' change-password (profile and refresh both 401)'
        or diag join "\n", @survived;
    note "1: rounds $ROUNDS, logins answered 200: $ok200, of them after"
         . " change-password's 200: $late, survivors: $survivors";
    is profile_status($keeper->{access}), 200,
        '1: the session that changed the password stays live';
    is code(login($u->{email}, "Race-Pass-$ROUNDS-a1b2c3")), '200 ',
        '1: the new password logs in';

    my $v = eval { psql(q{SELECT credential_version FROM users WHERE id = $1},
                        $u->{id}) } // "error: $@";
    is $v, $ROUNDS + 1, '1: credential_version bumped once per change';
    is eval { psql(q{SELECT count(*) FROM sessions s JOIN users u
                      ON u.id = s.user_id WHERE u.id = $1
                      AND s.revoked_at IS NULL
                      AND s.credential_version <> u.credential_version},
                   $u->{id}) } // "error: $@",
        0, '1: no unrevoked session with an old credential version';
}

# the worst interleaving, forced, $STEPS rounds
{
    my $u = new_user('lockstep', 'Step-Pass-0-d4e5f6');
    my $keeper = new_session($u);
    my $dir = "/tmp/fluentai-lockstep-$$";
    mkdir $dir;
    my ($in_flight, $ok200, $alive, $forced) = (0, 0, 0, 0);

    for my $round (1 .. $STEPS) {
        my $old = "Step-Pass-" . ($round - 1) . '-d4e5f6';
        my $new = "Step-Pass-$round-d4e5f6";
        my $locker = psql_hold('fluentai-test-lockstep',
                               'LOCK TABLE refresh_tokens IN EXCLUSIVE MODE',
                               60);
        my @pids = map {
            my $i = $_;
            in_child("$dir/login-$i", sub { login($u->{email}, $old) })
        } 1 .. $LOGINS;
        # every login verified the old password and waits to insert
        my $waiting = 0;
        my $t0 = time;
        while (time - $t0 < 20) {
            $waiting = psql(q{SELECT count(*) FROM pg_locks
                               WHERE relation = 'refresh_tokens'::regclass
                                 AND NOT granted});
            last if $waiting >= $LOGINS;
            sleep 0.05;
        }
        # change-password, while they are held (a backend's first call of
        # a statement may itself wait for the lock: then this round is
        # not a forced one and only counts for survivors)
        my $cp = in_child("$dir/change", sub {
            api(POST => '/user/change-password',
                headers => bearer($keeper->{access}),
                json => { currentPassword => $old, newPassword => $new });
        });
        $t0 = time;
        my $held = 0;
        while (time - $t0 < 8) {
            if (waitpid($cp, POSIX::WNOHANG()) == $cp) { $held = 1; last }
            sleep 0.05;
        }
        psql(q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE application_name = 'fluentai-test-lockstep'});
        waitpid $locker, 0;
        waitpid $_, 0 for @pids;
        waitpid $cp, 0 unless $held;
        my $c = child_result("$dir/change");
        # a round that was not forced may see change-password time out
        # client-side on a loaded machine; it still counts for survivors
        ok $c->{status} == 200 || !$held,
            "1 lock-step round $round: change-password 200"
            . ($held ? '' : " (not forced: $c->{status})");
        my $round200 = 0;
        for my $i (1 .. $LOGINS) {
            my $l = child_result("$dir/login-$i");
            next unless $l->{status} == 200;
            $round200++;
            $alive++ if profile_status($l->{json}{access_token}) == 200
                     || refresh($l->{json}{refresh_token})->{status} == 200;
        }
        if ($held) {
            $forced++;
            $in_flight += $waiting;
            $ok200 += $round200;
        }
        unlink glob("$dir/*");
    }
    rmdir $dir;
    note "1 lock-step: rounds $STEPS, forced $forced, logins in flight at"
         . " change-password: $in_flight, answered 200: $ok200, survivors:"
         . " $alive";
    ok $forced >= $STEPS - 1, "1 lock-step: $forced of $STEPS rounds had"
                              . ' change-password answer while 12 logins'
                              . ' were held in flight';
    is $ok200, 0, "1 lock-step: none of the $in_flight logins held in flight"
                  . ' across change-password gets a session';
    is $alive, 0, '1 lock-step: no survivor';
}

# ------------------------------------------------ 3. dead tokens name nothing

{
    my $u = new_user('deadtoken');
    my @s = map { new_session($u) } 1 .. 3;
    is live_sessions($u->{id}), 4, '3: four live sessions';

    # a rotated refresh token
    my $r = refresh($s[0]{refresh});
    is $r->{status}, 200, '3: session 1 refreshed (its first token is dead)';
    $r = api(POST => '/auth/logout',
             json => { refresh_token => $s[0]{refresh}, all => JSON::PP::true() });
    is $r->{status}, 200, '3: logout with a rotated token and all: 200';
    is live_sessions($u->{id}), 3,
        '3: ... ended its own session only (a rotated token coming back is'
        . ' reuse), not the other three';
    is refresh($s[1]{refresh})->{status}, 200,
        '3: ... another session still refreshes';

    # a token of a logged-out session
    my $gone = new_session($u);
    $r = api(POST => '/auth/logout', json => { refresh_token => $gone->{refresh} });
    is $r->{status}, 200, '3: a fifth session logged out';
    is live_sessions($u->{id}), 3, '3: three live again';
    api(POST => '/auth/logout?scope=all',
        json => { refresh_token => $gone->{refresh} });
    api(POST => '/auth/logout',
        json => { refresh_token => $gone->{refresh}, all => JSON::PP::true() });
    is live_sessions($u->{id}), 3,
        '3: the token of a logged-out session (all, ?scope=all) ends nothing';

    # a token of an expired session
    my $old = new_session($u);
    psql(q{UPDATE sessions SET expires_at = now() - interval '1 minute'
            WHERE id = $1}, $old->{sid});
    api(POST => '/auth/logout',
        json => { refresh_token => $old->{refresh}, all => JSON::PP::true() });
    is live_sessions($u->{id}), 4,
        '3: the token of an expired session ends nothing (3 live + the'
        . ' expired one unrevoked)';

    # an expired access token
    my $secret = do {
        open my $fh, '<:raw', data_dir() . '/jwt.key' or die $!;
        local $/; my $k = <$fh>; $k =~ s/[\r\n]+\z//; $k;
    };
    my $p = jwt_payload($s[1]{access});
    $p->{iat} = int(time) - 7200;
    $p->{exp} = int(time) - 3600;
    my $h = encode_base64url(json_encode({ alg => 'HS256', typ => 'JWT' }));
    my $in = $h . '.' . encode_base64url(json_encode($p));
    my $expired = $in . '.' . encode_base64url(hmac_sha256($in, $secret));
    is code(api(GET => '/auth/profile', headers => bearer($expired))),
        '401 token_expired', '3: an expired access token (crafted) is expired';
    api(POST => '/auth/logout', headers => bearer($expired),
        json => { all => JSON::PP::true() });
    is live_sessions($u->{id}), 4, '3: an expired access token ends nothing';

    # a live one still does
    api(POST => '/auth/logout',
        json => { refresh_token => $s[2]{refresh}, all => JSON::PP::true() });
    is live_sessions($u->{id}), 0,
        '3: a live refresh token with all ends every session';
}

# ------------------------------------------------ 5. absolute lifetime

{
    my $u = new_user('lifetime');
    my $a = new_session($u);
    my $b = new_session($u);
    psql(q{UPDATE sessions SET created_at = now() - interval '30 days 1 minute'
            WHERE id = $1}, $a->{sid});
    is code(refresh($a->{refresh})), '401 invalid_refresh_token',
        '5: a session older than 30 days does not refresh';
    is code(api(GET => '/auth/profile', headers => bearer($a->{access}))),
        '401 invalid_token', '5: ... nor authenticate GET /auth/profile';
    is code(api(PUT => '/user/profile', headers => bearer($a->{access}),
                json => { bio => 'x' })),
        '401 invalid_token', '5: ... nor PUT /user/profile';
    is code(api(POST => '/user/change-password',
                headers => bearer($a->{access}),
                json => { currentPassword => $u->{password},
                          newPassword => 'Another-Pass-77' })),
        '401 invalid_token', '5: ... nor change-password';

    psql(q{UPDATE sessions SET created_at = now() - interval '30 days'
                                            + interval '10 minutes'
            WHERE id = $1}, $b->{sid});
    my $r = refresh($b->{refresh});
    is $r->{status}, 200, '5: a session 10 minutes short of 30 days refreshes';
    my $left = psql(q{SELECT extract(epoch FROM created_at + interval '30 days'
                                      - expires_at)::int
                        FROM sessions WHERE id = $1}, $b->{sid});
    ok $left >= 0 && $left < 5,
        '5: ... its expiry is capped at created_at + 30 days, not now + 7'
        . " days (off by ${left}s)";
    my $exp = jwt_payload($r->{json}{access_token})->{exp} // 0;
    my $end = psql(q{SELECT extract(epoch FROM created_at
                                    + interval '30 days')::bigint
                       FROM sessions WHERE id = $1}, $b->{sid});
    ok $exp <= $end && $exp > time + 500,
        '5: ... and its access token expires at the session end'
        . " (exp - end = " . ($exp - $end) . ')';
}

# ------------------------------------------------ 6. deactivation revokes

{
    my $u = new_user('deactivate');
    my $s = new_session($u);
    psql(q{UPDATE users SET is_active = false WHERE id = $1}, $u->{id});
    is psql(q{SELECT count(*) FROM sessions WHERE user_id = $1
               AND revoke_reason = 'user_deactivated'}, $u->{id}), 2,
        '6: deactivation revokes both sessions (user_deactivated)';
    psql(q{UPDATE users SET is_active = true WHERE id = $1}, $u->{id});
    is code(api(GET => '/auth/profile', headers => bearer($s->{access}))),
        '401 invalid_token', '6: reactivated: the old access token is dead';
    is code(refresh($s->{refresh})), '401 invalid_refresh_token',
        '6: reactivated: the old refresh token is dead';
    is code(refresh($u->{refresh})), '401 invalid_refresh_token',
        '6: reactivated: the register session\'s too';
    is login($u->{email}, $u->{password})->{status}, 200,
        '6: reactivated: a new login works';
    psql(q{UPDATE users SET name = 'renamed' WHERE id = $1}, $u->{id});
    is live_sessions($u->{id}), 1,
        '6: other updates of the user revoke nothing';
}

# ------------------------------------------------ 7. JWT kid, iat, nbf

{
    my $u = new_user('jwtclaims');
    my $secret = do {
        open my $fh, '<:raw', data_dir() . '/jwt.key' or die $!;
        local $/; my $k = <$fh>; $k =~ s/[\r\n]+\z//; $k;
    };
    my $kid = substr sha256_hex($secret), 0, 16;
    my $sid = jwt_payload($u->{access})->{sid};
    my $sign = sub {
        my ($hdr, %claims) = @_;
        my $now = time;
        my %c = (sub => $u->{id}, sid => $sid, type => 'access',
                 iat => int($now), exp => int($now) + 600, jti => 'integrity',
                 %claims);
        my $in = encode_base64url(json_encode($hdr)) . '.'
               . encode_base64url(json_encode(\%c));
        return $in . '.' . encode_base64url(hmac_sha256($in, $secret));
    };
    my $H = { alg => 'HS256', typ => 'JWT', kid => $kid };
    my $st = sub { code(api(GET => '/auth/profile', headers => bearer($_[0]))) };

    is $st->($sign->($H)), '200 ', '7: a crafted token with the right kid: 200';
    is $st->($sign->({ alg => 'HS256', typ => 'JWT' })), '200 ',
        '7: ... without a kid: 200';
    is $st->($sign->({ %$H, kid => 'ffffffffffffffff' })), '401 invalid_token',
        '7: another kid: 401 invalid_token';
    is $st->($sign->({ %$H, kid => '' })), '401 invalid_token',
        '7: an empty kid: 401 invalid_token';
    is $st->($sign->($H, iat => int(time) + 120)), '401 invalid_token',
        '7: iat 120 s in the future: 401 invalid_token';
    is $st->($sign->($H, iat => int(time) + 10)), '200 ',
        '7: iat 10 s in the future (leeway 30 s): 200';
    is $st->($sign->($H, nbf => int(time) + 120)), '401 invalid_token',
        '7: nbf 120 s in the future: 401 invalid_token';
    is $st->($sign->($H, nbf => int(time) + 10)), '200 ',
        '7: nbf 10 s in the future: 200';
    is $st->($sign->($H, nbf => 'soon')), '401 invalid_token',
        '7: nbf not a number: 401 invalid_token';
    is jwt_payload($u->{access})->{iat} <= time, 1,
        '7: issued tokens carry no future iat';
}

# 5. a configured maximum (last: it restarts nginx)
{
    stop_nginx();
    start_nginx(main_config => fluentai_main_config(),
                http_config => fluentai_http_config(
                    extra => "    fluentai_session_max_lifetime 3s;\n"),
                config      => fluentai_locations())
        or BAIL_OUT('nginx did not restart');
    my $u = new_user('maxlife');
    my $r = refresh($u->{refresh});
    is $r->{status}, 200, '5: fluentai_session_max_lifetime 3s: refresh at once';
    my $exp = jwt_payload($r->{json}{access_token})->{exp} // 0;
    ok $exp <= time + 4, '5: ... the access token ends with the session';
    sleep 3.5;
    is code(refresh($r->{json}{refresh_token})), '401 invalid_refresh_token',
        '5: fluentai_session_max_lifetime 3s: no refresh after 3.5 s';
}

stop_nginx();
done_testing();
