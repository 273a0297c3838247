# The refresh reuse interval (issue 15): the immediate parent of a
# session's current refresh token, presented again within
# fluentai_refresh_reuse_interval (default 10 s) after its rotation, gets
# the same successor and a new access token, so concurrent refreshes (two
# tabs) and a retry after a lost answer converge on one token.  Never an
# older ancestor, never after the interval, never a session that is not
# live (revoked, expired, a changed credential version, past
# fluentai_session_max_lifetime): those revoke (or stay refused) as
# before, and a reissued access token ends with its session.
#
# "After the interval" is made by moving the rotation's time (used_at)
# back in the database rather than by sleeping.

use strict;
use warnings;

use Test::More;
use FluentAI::Test qw(:DEFAULT bearer claims new_user);
use Digest::SHA qw(sha256);
use POSIX ();
use Test::Nginx::Util ();

my $DIR = Test::Nginx::Util::servroot() . "/reuse.$$";   # made on use

sub refresh {
    my ($rt) = @_;
    return api(POST => '/auth/refresh', json => { refresh_token => $rt });
}

sub alive {
    my ($sid) = @_;
    return psql('SELECT revoked_at IS NULL FROM sessions WHERE id = $1',
                $sid) eq 't';
}

sub backdate {      # the rotation of $rt happened $secs ago
    my ($rt, $secs) = @_;
    psql(q{UPDATE refresh_tokens
              SET used_at = now() - make_interval(secs => $2::int)
            WHERE hash = decode($1, 'hex')},
         unpack('H*', sha256($rt)), $secs);
}

# $n refreshes of one token at once (forked clients); [ status, refresh
# token, access token ] each
sub concurrent {
    my ($rt, $n) = @_;
    my @pids;
    mkdir $DIR;
    for my $i (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $r = refresh($rt);
            open my $fh, '>', "$DIR/$i" or POSIX::_exit(1);
            print $fh join ' ', $r->{status},
                                $r->{json}{refresh_token} // '-',
                                $r->{json}{access_token} // '-';
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    my @res;
    for my $i (1 .. $n) {
        my $l = '0 - -';
        if (open my $fh, '<', "$DIR/$i") {
            $l = <$fh> // $l;
            close $fh;
            unlink "$DIR/$i";
        }
        push @res, [ split / /, $l ];
    }
    return \@res;
}

my $ok = start_nginx(
    main_config => fluentai_main_config(),
    http_config => fluentai_http_config(),
    config      => fluentai_locations(),
);

SKIP: {
    skip 'nginx did not start', 1 unless $ok;

    subtest '20 concurrent refreshes of one token converge' => sub {
        my $u = new_user('conc');
        my $res = concurrent($u->{refresh}, 20);
        my @ok = grep { $_->[0] == 200 } @$res;
        is scalar(@ok), 20, 'all 20 answer 200'
            or diag explain [ map { $_->[0] } @$res ];
        my %rt = map { $_->[1] => 1 } @ok;
        my %st;
        $st{ $_->[0] }++ for @$res;
        note sprintf '20 concurrent refreshes: statuses %s; %d distinct '
            . 'refresh token(s) among the 200s',
            join(', ', map { "$_ x $st{$_}" } sort keys %st),
            scalar keys %rt;
        is scalar(keys %rt), 1, 'all with the same new refresh token'
            or diag explain [ keys %rt ];
        my ($next) = keys %rt;
        isnt $next, $u->{refresh}, '... a new one (rotated)';
        ok alive($u->{sid}), 'the session stays alive';
        is psql('SELECT count(*) FROM refresh_tokens WHERE session_id = $1',
                $u->{sid}), 2, 'one rotation in the database';
        is psql(q{SELECT count(*) FROM refresh_tokens
                   WHERE hash = decode($1, 'hex') AND used_at IS NULL},
                unpack('H*', sha256($next // ''))), 1,
           'only the hash of the successor is stored';
        my %at = map { $_->[2] => 1 } @ok;
        my @good = grep {
            api(GET => '/auth/profile', headers => bearer($_))->{status} == 200
        } keys %at;
        is scalar(@good), scalar(keys %at), 'every access token works';
        is claims((keys %at)[0])->{sid}, $u->{sid}, '... for that session';
        my $r = refresh($next);
        is $r->{status}, 200, 'the successor rotates normally';
        ok alive($u->{sid}), 'the session is still alive';
    };

    subtest 'a retry of the parent within the interval' => sub {
        my $u = new_user('retry');
        my $r1 = refresh($u->{refresh});
        is $r1->{status}, 200, 'rotation';
        my $r2 = refresh($u->{refresh});
        is $r2->{status}, 200, 'the parent again, at once: 200';
        is $r2->{json}{refresh_token}, $r1->{json}{refresh_token},
           '... the same successor';
        is $r2->{json}{token_type}, 'bearer', '... a full token body';
        is api(GET => '/auth/profile',
               headers => bearer($r2->{json}{access_token}))->{status}, 200,
           '... with a valid access token';
        backdate($u->{refresh}, 9);
        is refresh($u->{refresh})->{status}, 200,
           '9 s after the rotation: still 200';
        ok alive($u->{sid}), 'the session is alive';
    };

    subtest 'the parent after the interval revokes' => sub {
        my $u = new_user('late');
        my $r = refresh($u->{refresh});
        my $next = $r->{json}{refresh_token} // '';
        backdate($u->{refresh}, 11);
        $r = refresh($u->{refresh});
        is $r->{status}, 401, '11 s after the rotation: 401';
        is $r->{json}{code}, 'refresh_token_reused', '... refresh_token_reused';
        ok !alive($u->{sid}), 'the session is revoked';
        is psql('SELECT revoke_reason FROM sessions WHERE id = $1', $u->{sid}),
           'refresh_token_reused', '... as a reuse';
        is refresh($next)->{status}, 401, 'and the successor is dead';
    };

    subtest 'a grandparent within the interval revokes' => sub {
        my $u = new_user('grand');
        my $b = refresh($u->{refresh})->{json}{refresh_token} // '';
        my $c = refresh($b)->{json}{refresh_token} // '';
        ok length $c, 'two rotations: A -> B -> C';
        my $r = refresh($u->{refresh});
        is $r->{status}, 401, 'A (the grandparent) at once: 401';
        is $r->{json}{code}, 'refresh_token_reused', '... refresh_token_reused';
        ok !alive($u->{sid}), 'the session is revoked';
        is refresh($c)->{status}, 401, 'C is dead';
    };

    subtest 'the parent after its successor was used revokes' => sub {
        my $u = new_user('used');
        my $b = refresh($u->{refresh})->{json}{refresh_token} // '';
        is refresh($b)->{status}, 200, 'B rotated (C is current)';
        my $r = refresh($b);
        is $r->{status}, 200, 'B again at once: 200 (the parent of C)';
        $r = refresh($u->{refresh});
        is $r->{status}, 401, 'A, no longer the parent: 401';
        ok !alive($u->{sid}), 'the session is revoked';
    };

    subtest 'no revival of an ended session' => sub {
        my $u = new_user('logout');
        my $r = refresh($u->{refresh});
        my $at = $r->{json}{access_token} // '';
        is api(POST => '/auth/logout', headers => bearer($at))->{status}, 200,
           'logout';
        $r = refresh($u->{refresh});
        is $r->{status}, 401,
           'the parent after logout, within the interval: 401';
        ok !alive($u->{sid}), 'the session stays revoked';

        my $v = new_user('expired');
        refresh($v->{refresh});
        psql(q{UPDATE sessions SET expires_at = now() - interval '1 second'
               WHERE id = $1}, $v->{sid});
        $r = refresh($v->{refresh});
        is $r->{status}, 401, 'the parent of an expired session: 401';
        is psql('SELECT expires_at < now() FROM sessions WHERE id = $1',
                $v->{sid}), 't', 'the session stays expired';

        my $w = new_user('deactivated');
        refresh($w->{refresh});
        psql('UPDATE users SET is_active = false WHERE id = $1', $w->{id});
        is refresh($w->{refresh})->{status}, 401,
           'the parent of a deactivated user: 401';
    };

    subtest 'no reissue for a session that is not live' => sub {
        my $u = new_user('version');
        refresh($u->{refresh});
        psql(q{UPDATE users SET credential_version = credential_version + 1
               WHERE id = $1}, $u->{id});
        is refresh($u->{refresh})->{status}, 401,
           'the parent after a credential version change: 401';

        my $v = new_user('overage');
        refresh($v->{refresh});
        psql(q{UPDATE sessions SET created_at = now() - interval '31 days'
               WHERE id = $1}, $v->{sid});
        is refresh($v->{refresh})->{status}, 401,
           'the parent of a session past the maximum lifetime: 401';

        my $w = new_user('nearend');
        psql(q{UPDATE sessions SET created_at = now() - interval '30 days'
                                    + interval '120 seconds'
               WHERE id = $1}, $w->{sid});
        my $r1 = refresh($w->{refresh});
        is $r1->{status}, 200, 'two minutes before the end: rotation';
        my $r2 = refresh($w->{refresh});
        is $r2->{status}, 200, '... the parent again: reissued';
        is $r2->{json}{refresh_token}, $r1->{json}{refresh_token},
           '... the same successor';
        my $exp = claims($r2->{json}{access_token})->{exp} // 0;
        cmp_ok $exp, '<=', time + 125,
           "... its access token ends with the session's end";
        cmp_ok $exp, '>', time + 60, '... not before';
    };

    subtest 'successors are derived, not stored' => sub {
        my $u = new_user('derive');
        my $v = new_user('derive2');
        my $a = refresh($u->{refresh})->{json}{refresh_token} // '';
        my $b = refresh($v->{refresh})->{json}{refresh_token} // '';
        like $a, qr/^[A-Za-z0-9_-]{43}\z/, 'a successor is 43 base64url';
        isnt $a, $b, 'different parents, different successors';
        is psql(q{SELECT count(*) FROM refresh_tokens
                   WHERE convert_to($1, 'UTF8') = hash}, $a), 0,
           'the token itself is nowhere in the table';
    };
}

# switched off: the parent at once is a reuse, as before
my $off = start_nginx(
    main_config => fluentai_main_config(),
    http_config => fluentai_http_config(
        extra => "    fluentai_refresh_reuse_interval 0;\n"),
    config      => fluentai_locations(),
);

SKIP: {
    skip 'nginx did not start', 1 unless $off;
    my $u = new_user('off');
    is refresh($u->{refresh})->{status}, 200, 'interval 0: rotation';
    my $r = refresh($u->{refresh});
    is $r->{status}, 401, 'interval 0: the parent at once is 401';
    is $r->{json}{code}, 'refresh_token_reused', '... refresh_token_reused';
    ok !alive($u->{sid}), '... and revokes the session';

    my $res = concurrent(new_user('off-conc')->{refresh}, 10);
    is scalar(grep { $_->[0] == 200 } @$res), 1,
       'interval 0: of 10 concurrent refreshes exactly one rotates';
}

stop_nginx();
done_testing();
