# Sessions users can see and control (issue 15):
#   GET /auth/sessions, DELETE /auth/sessions/{id}, and
#   "fluentai_auth_jwt session": the gate that honours logout.
#
# A second server block stands for a backend behind the gate: it logs the
# requests it gets, so the test can prove that a refused request never
# reached it.  The main server takes the client address from X-Real-IP
# (realip), as behind a load balancer.

use strict;
use warnings;

use Test::More;
use FluentAI::Test qw(:DEFAULT bearer claims jwt new_user);
use IO::Socket::INET ();
use JSON::PP ();
use Time::HiRes ();
use Test::Nginx::Util ();

my $BACKEND = server_port() + 1;
my $LOGDIR = Test::Nginx::Util::servroot() . '/logs';
my $BACKEND_LOG = "$LOGDIR/backend.log";
my $ORIGIN = 'http://localhost:5173';
my $TF = Test::Nginx::Util::timeout_factor();

my $Seq = 0;
sub tid { sprintf 's%d-%d', $$, ++$Seq }

sub backend_saw {
    my ($id) = @_;
    open my $fh, '<', $BACKEND_LOG or return 0;
    return scalar grep { /^id=\Q$id\E / } <$fh>;
}

# a request through a gated location; {reached} says if the backend got it
sub through {
    my ($path, $token, %h) = @_;
    my $id = tid();
    my $r = api(GET => $path, headers => { 'X-Test-Id' => $id, %h,
                                           $token ? %{ bearer($token) } : () });
    # the backend logs after answering: give it a moment for a 200
    wait_backend($id) if $r->{status} == 200;
    $r->{reached} = backend_saw($id);
    return $r;
}

sub wait_backend {
    my ($id) = @_;
    my $deadline = Time::HiRes::time() + 2 * $TF;
    Time::HiRes::sleep(0.02)
        until backend_saw($id) || Time::HiRes::time() > $deadline;
}

sub alive {
    my ($sid) = @_;
    return psql('SELECT revoked_at IS NULL FROM sessions WHERE id = $1',
                $sid) eq 't';
}

sub login {
    my ($u, %o) = @_;
    my $r = api(POST => '/auth/login',
                headers => $o{headers} // {},
                json => { email => $u->{email}, password => $u->{password},
                          exists $o{remember}
                          ? (remember => $o{remember}) : () });
    is $r->{status}, 200, 'setup: login' or diag $r->{body};
    my $j = $r->{json} // {};
    return { access => $j->{access_token} // '',
             refresh => $j->{refresh_token} // '',
             sid => claims($j->{access_token})->{sid} // '' };
}

# a login with a User-Agent HTTP::Tiny refuses to send (non-ASCII, a tab)
sub raw_login {
    my ($u, $ua, $ip) = @_;
    my $body = json_encode({ email => $u->{email},
                             password => $u->{password} });
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => server_port(),
                                  Timeout => 10 * $TF) or die "connect: $!";
    print $s "POST /auth/login HTTP/1.0\r\nHost: localhost\r\n"
           . "User-Agent: $ua\r\nX-Real-IP: $ip\r\n"
           . "Content-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
    local $/;
    my $resp = <$s> // '';
    my ($status) = $resp =~ m{^HTTP/1\.\d (\d+)};
    is $status, 200, 'setup: login (raw)' or diag $resp;
    my ($json) = $resp =~ /\r\n\r\n(.*)\z/s;
    my $j = json_decode($json // '') // {};
    return { access => $j->{access_token} // '',
             sid => claims($j->{access_token})->{sid} // '' };
}

my $http_config = fluentai_http_config(cors_origins => $ORIGIN) . <<"_EOC_";
    log_format fluentai_backend 'id=\$http_x_test_id user=\$http_x_user_id';
    server {
        listen 127.0.0.1:$BACKEND;
        server_name backend;
        access_log $BACKEND_LOG fluentai_backend;
        location / { return 200 "user=\$http_x_user_id\\n"; }
    }
_EOC_

my $gates = <<"_EOC_";
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Real-IP;

    location /stateless/ {
        fluentai_auth_jwt on;
        proxy_set_header X-User-Id \$fluentai_user_id;
        proxy_pass http://127.0.0.1:$BACKEND;
    }
    location /gated/ {
        fluentai_auth_jwt session;
        proxy_set_header X-User-Id \$fluentai_user_id;
        proxy_pass http://127.0.0.1:$BACKEND;
    }
    location /any-allowed/ {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        fluentai_auth_jwt session;
        proxy_set_header X-User-Id \$fluentai_user_id;
        proxy_pass http://127.0.0.1:$BACKEND;
    }
    location /any-denied/ {
        satisfy any;
        deny all;
        fluentai_auth_jwt session;
        proxy_pass http://127.0.0.1:$BACKEND;
    }
_EOC_

my $ok = start_nginx(
    main_config => fluentai_main_config(),
    http_config => $http_config,
    config      => fluentai_locations() . $gates,
);

SKIP: {
    skip 'nginx did not start', 1 unless $ok;

    subtest 'gate session: logout closes it at once, "on" does not' => sub {
        my $u = new_user('gate');
        my $r = through('/gated/x', $u->{access});
        is $r->{status}, 200, 'active session: 200' or diag $r->{body};
        is $r->{body}, "user=$u->{id}\n", 'the backend got the user id';
        ok $r->{reached}, 'the backend was reached';

        $r = api(POST => '/auth/logout', headers => bearer($u->{access}));
        is $r->{status}, 200, 'logout';

        $r = through('/gated/x', $u->{access});
        is $r->{status}, 401, 'after logout: 401';
        is $r->{json}{code}, 'invalid_token', '... invalid_token (JSON)';
        like $r->{headers}{'www-authenticate'} // '',
             qr/^Bearer error="invalid_token"/, '... with the challenge';
        is $r->{headers}{'access-control-allow-origin'}, undef,
           '... no CORS header without an Origin';
        ok !$r->{reached}, '... the backend never saw it';

        $r = through('/stateless/x', $u->{access});
        is $r->{status}, 200,
           'the stateless gate ("on") still lets that token through';
    };

    subtest 'gate session: change-password closes other sessions' => sub {
        my $u = new_user('gatepw');
        my $other = login($u);
        is through('/gated/x', $other->{access})->{status}, 200,
           'second session: 200';
        my $r = api(POST => '/user/change-password',
                    headers => bearer($u->{access}),
                    json => { currentPassword => $u->{password},
                              newPassword => 'a new password 2' });
        is $r->{status}, 200, 'password changed';
        $r = through('/gated/x', $other->{access});
        is $r->{status}, 401, 'the other session: 401 at once';
        ok !$r->{reached}, '... not proxied';
        is through('/gated/x', $u->{access})->{status}, 200,
           'the session that changed it: still 200';
    };

    subtest 'gate session: tokens, deactivation, expiry, CORS' => sub {
        my $u = new_user('gatetok');
        my $r = through('/gated/x', undef);
        is $r->{status}, 401, 'no token: 401';
        is $r->{json}{code}, 'not_authenticated', '... not_authenticated';
        is $r->{headers}{'www-authenticate'}, 'Bearer', '... challenge';
        ok !$r->{reached}, '... not proxied';

        $r = through('/gated/x', 'abc.def.ghi');
        is $r->{json}{code}, 'invalid_token', 'garbage: invalid_token';

        $r = through('/gated/x', jwt(sub => $u->{id}, sid => $u->{sid},
                                     iat => time - 7200, exp => time - 3600));
        is $r->{json}{code}, 'token_expired', 'expired: token_expired';

        # a well-signed token for a session that does not exist
        $r = through('/gated/x', jwt(sub => $u->{id},
                          sid => '00000000-0000-4000-8000-000000000000'));
        is $r->{status}, 401, 'unknown session: 401';
        is $r->{json}{code}, 'invalid_token', '... invalid_token';

        # another user's session id under this user's id
        my $v = new_user('gatetok2');
        $r = through('/gated/x', jwt(sub => $u->{id}, sid => $v->{sid}));
        is $r->{json}{code}, 'invalid_token', "another user's sid: 401";

        # past its lifetime in the database
        my $w = new_user('gateexp');
        psql(q{UPDATE sessions SET expires_at = now() - interval '1 second'
               WHERE id = $1}, $w->{sid});
        $r = through('/gated/x', $w->{access});
        is $r->{json}{code}, 'invalid_token', 'expired session: 401';
        ok !$r->{reached}, '... not proxied';

        my $d = new_user('gatedeact');
        psql('UPDATE users SET is_active = false WHERE id = $1', $d->{id});
        is through('/gated/x', $d->{access})->{status}, 401,
           'deactivated user: 401';

        $r = through('/gated/x', $u->{access}, Origin => $ORIGIN);
        is $r->{status}, 200, 'with an Origin: 200';
        $r = through('/gated/x', $d->{access}, Origin => $ORIGIN);
        is $r->{headers}{'access-control-allow-origin'}, $ORIGIN,
           'a refusal carries CORS headers for a listed origin';
        $r = api(OPTIONS => '/gated/x',
                 headers => { Origin => $ORIGIN,
                              'Access-Control-Request-Method' => 'GET' });
        is $r->{status}, 200, 'OPTIONS passes without a token (backend)';
    };

    subtest 'gate session: satisfy any' => sub {
        my $u = new_user('gateany');
        api(POST => '/auth/logout', headers => bearer($u->{access}));
        my $r = through('/any-allowed/x', $u->{access});
        is $r->{status}, 200, 'revoked token, "allow" grants: 200';
        is $r->{body}, "user=\n", '... and no user id is passed on';
        $r = through('/any-denied/x', $u->{access});
        is $r->{status}, 401, 'revoked token, nothing grants: 401';
        like $r->{headers}{'www-authenticate'} // '',
             qr/^Bearer error="invalid_token"/, '... with the challenge';
        ok !$r->{reached}, '... not proxied';
        my $v = new_user('gateany2');
        $r = through('/any-denied/x', $v->{access});
        is $r->{status}, 200, 'active session, "deny all": the gate grants';
    };

    subtest 'gate session: concurrent requests' => sub {
        my $u = new_user('gateconc');
        my @pids;
        my $n = 20;
        my $dir = Test::Nginx::Util::servroot() . "/conc.$$";
        mkdir $dir;
        for my $i (1 .. $n) {
            my $pid = fork // die "fork: $!";
            if (!$pid) {
                my $r = api(GET => '/gated/x', headers => bearer($u->{access}));
                open my $fh, '>', "$dir/$i" or POSIX::_exit(1);
                print $fh $r->{status};
                close $fh;
                POSIX::_exit(0);
            }
            push @pids, $pid;
        }
        waitpid $_, 0 for @pids;
        my @st = map { open my $fh, '<', "$dir/$_"; scalar <$fh> // '' }
                 1 .. $n;
        is scalar(grep { $_ eq '200' } @st), $n, "$n concurrent: all 200"
            or diag "@st";
    };

    subtest 'GET /auth/sessions' => sub {
        my $u = new_user('list');
        my $b = login($u, remember => JSON::PP::false,
                      headers => { 'User-Agent' => 'Firefox/128 (tab B)',
                                   'X-Real-IP' => '203.0.113.7' });
        my $c = raw_login($u, ('L' x 250) . "\xc3\xa9\t" . ('L' x 50),
                          '2001:db8::1');
        my $other = new_user('list-other');

        my $r = api(GET => '/auth/sessions', headers => bearer($c->{access}));
        is $r->{status}, 200, 'the list: 200' or diag $r->{body};
        like $r->{headers}{'cache-control'} // '', qr/no-store/, 'no-store';
        my $s = $r->{json}{sessions} // [];
        is scalar(@$s), 3, 'three active sessions (register, two logins)';
        is_deeply [ map { $_->{id} } @$s ], [ $c->{sid}, $b->{sid}, $u->{sid} ],
            'newest first';
        is_deeply [ map { $_->{current} ? 1 : 0 } @$s ], [ 1, 0, 0 ],
            'current: only the caller';
        is_deeply [ sort keys %{ $s->[0] } ],
            [ sort qw(id created_at last_used_at expires_at remember
                      user_agent ip current) ], 'the fields';
        is $s->[1]{user_agent}, 'Firefox/128 (tab B)', 'user agent stored';
        is $s->[0]{user_agent}, ('L' x 250) . '???' . ('L' x 3),
           'a long user agent: cut to 256 bytes, other bytes than printable ASCII are "?"';
        is $s->[2]{user_agent}, 'fluentai-test/1', 'at register too';
        is $s->[1]{ip}, '203.0.113.7', 'ip: the address after realip';
        is $s->[0]{ip}, '2001:db8::1', 'ip: IPv6';
        is $s->[2]{ip}, '127.0.0.1', 'ip without X-Real-IP: the peer';
        ok !$s->[1]{remember} && $s->[0]{remember}, 'remember';
        like $s->[0]{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
             'created_at: RFC 3339, UTC';
        like $s->[0]{expires_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
             'expires_at: RFC 3339, UTC';
        is $s->[0]{last_used_at}, undef, 'last_used_at: null before a refresh';
        $r = api(POST => '/auth/refresh',
                 json => { refresh_token => $b->{refresh} });
        is $r->{status}, 200, 'refresh session B';
        $r = api(GET => '/auth/sessions', headers => bearer($c->{access}));
        my ($sb) = grep { $_->{id} eq $b->{sid} } @{ $r->{json}{sessions} };
        like $sb->{last_used_at} // '', qr/Z$/, 'last_used_at after a refresh';
        ok !grep({ $_->{id} eq $other->{sid} } @{ $r->{json}{sessions} }),
           "another user's session is not listed";

        # ended sessions are not listed
        api(POST => '/auth/logout', headers => bearer($b->{access}));
        psql(q{UPDATE sessions SET expires_at = now() - interval '1 second'
               WHERE id = $1}, $u->{sid});
        $r = api(GET => '/auth/sessions', headers => bearer($c->{access}));
        is_deeply [ map { $_->{id} } @{ $r->{json}{sessions} } ],
            [ $c->{sid} ], 'logged-out and expired sessions are gone';

        $r = api(HEAD => '/auth/sessions', headers => bearer($c->{access}));
        is $r->{status}, 200, 'HEAD: 200';
        is $r->{body}, '', '... no body';

        $r = api(GET => '/auth/sessions');
        is $r->{status}, 401, 'no token: 401';
        is $r->{json}{code}, 'not_authenticated', '... not_authenticated';
        $r = api(GET => '/auth/sessions', headers => bearer($b->{access}));
        is $r->{status}, 401, 'a logged-out session: 401';
        is $r->{json}{code}, 'invalid_token', '... invalid_token';
        $r = api(POST => '/auth/sessions', headers => bearer($c->{access}));
        is $r->{status}, 405, 'POST: 405';
        is $r->{headers}{allow}, 'GET, HEAD, OPTIONS', '... Allow';
    };

    subtest 'DELETE /auth/sessions/{id}' => sub {
        my $u = new_user('del');
        my $b = login($u);
        my $other = new_user('del-other');

        my $r = api(DELETE => "/auth/sessions/$b->{sid}",
                    headers => bearer($u->{access}));
        is $r->{status}, 200, 'revoke my other session: 200' or diag $r->{body};
        is_deeply $r->{json}, { message => 'Session revoked',
                                success => JSON::PP::true }, '... body';
        is psql('SELECT revoke_reason FROM sessions WHERE id = $1', $b->{sid}),
           'revoked_by_user', '... revoked in the database';
        is api(GET => '/auth/profile', headers => bearer($b->{access}))
           ->{status}, 401, '... its access token is dead';
        is api(POST => '/auth/refresh',
               json => { refresh_token => $b->{refresh} })->{status}, 401,
           '... and its refresh token';
        is api(GET => '/auth/profile', headers => bearer($u->{access}))
           ->{status}, 200, 'the caller is still logged in';

        $r = api(DELETE => "/auth/sessions/$b->{sid}",
                 headers => bearer($u->{access}));
        is $r->{status}, 404, 'again: 404';
        is $r->{json}{code}, 'session_not_found', '... session_not_found';

        $r = api(DELETE => "/auth/sessions/$other->{sid}",
                 headers => bearer($u->{access}));
        is $r->{status}, 404, "another user's session: 404";
        is $r->{json}{code}, 'session_not_found', '... the same code';
        is api(GET => '/auth/profile', headers => bearer($other->{access}))
           ->{status}, 200, '... and it stays alive';

        for my $id ('00000000-0000-4000-8000-000000000000', 'nope',
                    uc($other->{sid}), "$b->{sid}x", '') {
            $r = api(DELETE => "/auth/sessions/$id",
                     headers => bearer($u->{access}));
            is $r->{status}, 404, "id '$id': 404";
        }

        $r = api(DELETE => "/auth/sessions/$u->{sid}");
        is $r->{status}, 401, 'no token: 401';
        $r = api(DELETE => "/auth/sessions/$u->{sid}",
                 headers => bearer($b->{access}));
        is $r->{status}, 401, 'a revoked session cannot revoke others';
        is $r->{json}{code}, 'invalid_token', '... invalid_token';

        $r = api(GET => "/auth/sessions/$u->{sid}",
                 headers => bearer($u->{access}));
        is $r->{status}, 405, 'GET on an id: 405';
        is $r->{headers}{allow}, 'DELETE, OPTIONS', '... Allow';

        $r = api(DELETE => "/auth/sessions/$u->{sid}",
                 headers => bearer($u->{access}));
        is $r->{status}, 200, 'revoke my own session: 200';
        is api(GET => '/auth/profile', headers => bearer($u->{access}))
           ->{status}, 401, '... then I am logged out';
    };

    subtest 'POST /auth/logout scopes' => sub {
        my $u = new_user('scope');
        my $b = login($u);
        my $c = login($u);
        my $other = new_user('scope-other');
        my $r = api(POST => '/auth/logout', headers => bearer($b->{access}),
                    json => { scope => 'others' });
        is $r->{status}, 200, 'others: 200';
        ok alive($b->{sid}), "others: the caller's session stays";
        ok !alive($u->{sid}) && !alive($c->{sid}),
           'others: every other session of the user ends';
        ok alive($other->{sid}), "others: another user's session stays";
        is api(GET => '/auth/profile', headers => bearer($b->{access}))
           ->{status}, 200, 'others: the caller is still logged in';

        my $d = login($u);
        $r = api(POST => '/auth/logout', headers => bearer($d->{access}),
                 json => { scope => 'local' });
        ok !alive($d->{sid}) && alive($b->{sid}),
           'local: only the caller\'s session';

        my $e = login($u);
        $r = api(POST => '/auth/logout', headers => bearer($b->{access}),
                 json => { scope => 'bogus' });
        is $r->{status}, 422, 'an unknown scope: 422';
        is $r->{json}{details}[0]{type}, 'value_error.scope',
           '... value_error.scope';
        is_deeply $r->{json}{details}[0]{loc}, [ 'body', 'scope' ], '... loc';
        ok alive($b->{sid}) && alive($e->{sid}), '... nothing was revoked';
        is api(POST => '/auth/logout', headers => bearer($b->{access}),
               json => { scope => 5 })->{status}, 422,
           'a scope that is not a string: 422';

        $r = api(POST => '/auth/logout?scope=others',
                 json => { refresh_token => $e->{refresh} });
        is $r->{status}, 200, '?scope=others by refresh token: 200';
        ok alive($e->{sid}) && !alive($b->{sid}),
           '... keeps the session of that refresh token, ends the others';

        my $f = login($u);
        $r = api(POST => '/auth/logout', headers => bearer($f->{access}),
                 json => { scope => 'global' });
        ok !alive($e->{sid}) && !alive($f->{sid}), 'global: every session';
        ok alive($other->{sid}), "global: another user's stays";

        my $g = login($u);
        my $h = login($u);
        api(POST => '/auth/logout', headers => bearer($g->{access}),
            json => { all => JSON::PP::true });
        ok !alive($g->{sid}) && !alive($h->{sid}),
           '{"all": true} is still global';
    };

    subtest 'logout scopes need a live credential (a rotated token)' => sub {
        my $u = new_user('scope-dead');
        my $b = login($u);
        my $c = login($u);
        my $r = api(POST => '/auth/refresh',
                    json => { refresh_token => $b->{refresh} });
        is $r->{status}, 200, 'session B rotated (its first token is dead)';
        $r = api(POST => '/auth/logout',
                 json => { refresh_token => $b->{refresh},
                           scope => 'others' });
        is $r->{status}, 200, 'others with the rotated token: 200';
        ok alive($u->{sid}) && alive($b->{sid}) && alive($c->{sid}),
           '... ends nothing';
        $r = api(POST => '/auth/logout',
                 json => { refresh_token => $b->{refresh},
                           scope => 'global' });
        ok !alive($b->{sid}), 'global with the rotated token: its own session';
        ok alive($u->{sid}) && alive($c->{sid}), '... and never the others';
    };

    subtest 'sessions past the maximum lifetime' => sub {
        my $u = new_user('maxlife');
        my $b = login($u);
        psql(q{UPDATE sessions SET created_at = now() - interval '31 days'
               WHERE id = $1}, $b->{sid});
        my $r = api(GET => '/auth/sessions', headers => bearer($u->{access}));
        is_deeply [ map { $_->{id} } @{ $r->{json}{sessions} // [] } ],
            [ $u->{sid} ], 'an over-age session is not listed';
        $r = api(DELETE => "/auth/sessions/$b->{sid}",
                 headers => bearer($u->{access}));
        is $r->{status}, 404, '... nor revoked by DELETE: 404';
        is api(GET => '/auth/sessions', headers => bearer($b->{access}))
           ->{status}, 401, '... nor does it list: 401';
        psql(q{UPDATE sessions SET created_at = now() - interval '30 days'
                                    + interval '1 hour'
               WHERE id = $1}, $u->{sid});
        $r = api(GET => '/auth/sessions', headers => bearer($u->{access}));
        my $end = psql(q{SELECT to_char((created_at + interval '30 days')
                                        AT TIME ZONE 'UTC',
                                        'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                           FROM sessions WHERE id = $1}, $u->{sid});
        is $r->{json}{sessions}[0]{expires_at}, $end,
           'expires_at: the absolute end when it comes first';
    };

    subtest 'sessions: CORS' => sub {
        my $u = new_user('cors');
        my $r = api(OPTIONS => "/auth/sessions/$u->{sid}",
                    headers => { Origin => $ORIGIN,
                                 'Access-Control-Request-Method' => 'DELETE' });
        is $r->{status}, 204, 'preflight: 204';
        like $r->{headers}{'access-control-allow-methods'} // '', qr/DELETE/,
             '... allows DELETE';
        is $r->{headers}{'access-control-allow-origin'}, $ORIGIN, '... origin';
        $r = api(GET => '/auth/sessions',
                 headers => { Origin => $ORIGIN, %{ bearer($u->{access}) } });
        is $r->{headers}{'access-control-allow-origin'}, $ORIGIN,
           'GET: Access-Control-Allow-Origin';
        $r = api(DELETE => '/auth/sessions/nope',
                 headers => { Origin => $ORIGIN, %{ bearer($u->{access}) } });
        is $r->{headers}{'access-control-allow-origin'}, $ORIGIN,
           'a 404: Access-Control-Allow-Origin';
    };
}

# the database is down: the session gate answers the contract's 503
my $down = start_nginx(
    main_config => fluentai_main_config(),
    http_config => fluentai_http_config(
        database => 'hostaddr=127.0.0.1 port=1 dbname=x user=postgres '
                    . 'connect_timeout=2') . $http_config
                    =~ s/^.*?(?=    log_format)//sr,
    config      => fluentai_locations() . $gates,
);

SKIP: {
    skip 'nginx did not start', 1 unless $down;
    my $t = jwt(sub => '00000000-0000-4000-8000-000000000001',
                sid => '00000000-0000-4000-8000-000000000002');
    for my $path ('/gated/x', '/any-allowed/x') {
        my $r = through($path, $t);
        is $r->{status}, 503, "$path, database down: 503";
        is $r->{json}{code}, 'database_unavailable', '... database_unavailable';
        is $r->{json}{status_code}, 503, '... the contract\'s error shape';
        ok !$r->{reached}, '... not proxied';
    }
    is through('/stateless/x', $t)->{status}, 200,
       'the stateless gate needs no database';
    my $r = api(GET => '/auth/sessions', headers => bearer($t));
    is $r->{status}, 503, 'GET /auth/sessions, database down: 503';
    $r = api(DELETE => '/auth/sessions/00000000-0000-4000-8000-000000000003',
             headers => bearer($t));
    is $r->{status}, 503, 'DELETE /auth/sessions/{id}, database down: 503';
}

stop_nginx();
done_testing();
