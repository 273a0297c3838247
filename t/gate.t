# fluentai_auth_jwt (the access-phase gate for other locations) and the
# variables $fluentai_user_id, $fluentai_session_id, $fluentai_error_code.
#
# A second server block in the same configuration (another port) stands for
# a backend: it echoes the X-User-Id / X-Session-Id headers the gated
# location sets from the variables, and logs every request it gets, so the
# test can prove that a request with a missing, bad or expired token never
# reached it.  The main server logs the variables with a log_format, read
# back after a register, login, profile, refresh and failing calls.

use strict;
use warnings;

use Test::More;
use FluentAI::Test qw(:DEFAULT jwt claims);
use Digest::SHA qw(hmac_sha256);
use IO::Socket::INET ();
use JSON::PP ();
use MIME::Base64 qw(encode_base64url decode_base64);
use Time::HiRes ();
use Test::Nginx::Util ();

my $BACKEND = $ENV{TEST_NGINX_BACKEND_PORT} || server_port() + 1;
my $LOGDIR = Test::Nginx::Util::servroot() . '/logs';
my $VARS_LOG = "$LOGDIR/fluentai_vars.log";
my $BACKEND_LOG = "$LOGDIR/backend.log";
my $ORIGIN = 'http://localhost:5173';
my $TF = Test::Nginx::Util::timeout_factor();

my $JSON = JSON::PP->new->utf8->canonical;



my $Seq = 0;
sub tid { sprintf 'g%d-%d', $$, ++$Seq }

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    my $d = <$fh>;
    return $d // '';
}

# the line of the access log $file for request id $id (waits for it)
sub log_line {
    my ($file, $id, $wait) = @_;
    my $deadline = Time::HiRes::time() + ($wait // 5 * $TF);
    while (1) {
        for my $l (split /\n/, slurp($file)) {
            return $l if $l =~ /^id=\Q$id\E /;
        }
        return undef if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.05);
    }
}

# the variables logged for request $id
sub vars_of {
    my ($id) = @_;
    my $l = log_line($VARS_LOG, $id) // return {};
    my %v = $l =~ /(\w+)=(\S*)/g;
    return \%v;
}

sub call {
    my ($method, $path, %a) = @_;
    my $id = tid();
    $a{headers}{'X-Test-Id'} = $id;
    my $r = api($method, $path, %a);
    $r->{id} = $id;
    return $r;
}

my $http_config = fluentai_http_config(cors_origins => $ORIGIN) . <<"_EOC_";
    log_format fluentai_vars 'id=\$http_x_test_id status=\$status '
                             'user=\$fluentai_user_id '
                             'sid=\$fluentai_session_id '
                             'err=\$fluentai_error_code';
    log_format fluentai_backend 'id=\$http_x_test_id '
                                'user=\$http_x_user_id '
                                'sid=\$http_x_session_id';

    # the backend behind the gate: echoes what it was told
    server {
        listen 127.0.0.1:$BACKEND;
        server_name backend;
        access_log $BACKEND_LOG fluentai_backend;
        location / {
            return 200 "user=\$http_x_user_id sid=\$http_x_session_id\\n";
        }
    }
_EOC_

my $config = fluentai_locations() . <<"_EOC_";
    access_log $VARS_LOG fluentai_vars;

    location /api/ {
        fluentai_auth_jwt on;
        proxy_set_header X-User-Id \$fluentai_user_id;
        proxy_set_header X-Session-Id \$fluentai_session_id;
        proxy_pass http://127.0.0.1:$BACKEND;

        location /api/public/ {
            fluentai_auth_jwt off;
            proxy_set_header X-User-Id \$fluentai_user_id;
            proxy_set_header X-Session-Id \$fluentai_session_id;
            proxy_pass http://127.0.0.1:$BACKEND;
        }
    }

    location /open/ {
        proxy_pass http://127.0.0.1:$BACKEND;
    }

    # "satisfy any": the gate's 401 lets another access module grant
    location /any-allowed/ {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        fluentai_auth_jwt on;
        proxy_set_header X-User-Id \$fluentai_user_id;
        proxy_pass http://127.0.0.1:$BACKEND;
    }

    location /any-denied/ {
        satisfy any;
        deny all;
        fluentai_auth_jwt on;
        proxy_set_header X-User-Id \$fluentai_user_id;
        proxy_set_header X-Session-Id \$fluentai_session_id;
        proxy_pass http://127.0.0.1:$BACKEND;
    }
_EOC_

my $ok = start_nginx(
    main_config => fluentai_main_config(),
    http_config => $http_config,
    config      => $config,
);

SKIP: {
    skip 'nginx did not start', 1 unless $ok;

    my $email = unique_email('gate');
    my $pw = 'correct horse 1';
    my (%reg, %login);

    subtest 'variables: register, login, profile, refresh' => sub {
        my $r = call(POST => '/auth/register',
                     json => { name => 'Gate Keeper', email => $email,
                               password => $pw });
        is $r->{status}, 200, 'register: 200' or diag $r->{body};
        my $uid = $r->{json}{user}{id} // '';
        my $c = claims($r->{json}{access_token});
        %reg = (uid => $uid, sid => $c->{sid} // '',
                access => $r->{json}{access_token},
                refresh => $r->{json}{refresh_token});
        my $v = vars_of($r->{id});
        is $v->{status}, 200, 'register: logged';
        is $v->{user}, $uid, 'register: $fluentai_user_id is the new user';
        like $v->{sid}, qr/^[0-9a-f-]{36}$/,
             'register: $fluentai_session_id is a session id';
        is $v->{sid}, $c->{sid}, '... the sid of the issued token';
        is psql('SELECT user_id FROM sessions WHERE id = $1', $v->{sid}),
           $uid, '... a session of that user in the database';
        is $v->{err}, '', 'register: $fluentai_error_code is empty';

        $r = call(POST => '/auth/login',
                  json => { email => $email, password => $pw });
        is $r->{status}, 200, 'login: 200';
        $c = claims($r->{json}{access_token});
        %login = (uid => $uid, sid => $c->{sid} // '',
                  access => $r->{json}{access_token},
                  refresh => $r->{json}{refresh_token});
        $v = vars_of($r->{id});
        is $v->{user}, $uid, 'login: $fluentai_user_id';
        is $v->{sid}, $login{sid}, 'login: $fluentai_session_id is the new session';
        isnt $v->{sid}, $reg{sid}, '... not the register session';
        is psql('SELECT user_id FROM sessions WHERE id = $1', $v->{sid}),
           $uid, '... in the database';
        is $v->{err}, '', 'login: no error code';

        for my $path ('/auth/profile', '/user/profile') {
            $r = call(GET => $path,
                      headers => { Authorization => "Bearer $login{access}" });
            is $r->{status}, 200, "$path: 200";
            $v = vars_of($r->{id});
            is $v->{user}, $uid, "$path: \$fluentai_user_id";
            is $v->{sid}, $login{sid}, "$path: \$fluentai_session_id";
            is $v->{err}, '', "$path: no error code";
        }

        $r = call(POST => '/auth/refresh',
                  json => { refresh_token => $login{refresh} });
        is $r->{status}, 200, 'refresh: 200';
        $login{access} = $r->{json}{access_token};
        $login{refresh} = $r->{json}{refresh_token};
        $v = vars_of($r->{id});
        is $v->{user}, $uid, 'refresh: $fluentai_user_id';
        is $v->{sid}, $login{sid}, 'refresh: the same session';
        is $v->{err}, '', 'refresh: no error code';
    };

    subtest 'variables: failing calls' => sub {
        my @cases = (
            [ 'profile without a token', GET => '/auth/profile', {},
              401, 'not_authenticated' ],
            [ 'profile with a bad token', GET => '/auth/profile',
              { headers => { Authorization => 'Bearer x.y.z' } },
              401, 'invalid_token' ],
            [ 'login with a wrong password', POST => '/auth/login',
              { json => { email => $email, password => 'wrong password' } },
              401, 'invalid_credentials' ],
            [ 'register with bad fields', POST => '/auth/register',
              { json => { name => 'G', email => 'x', password => 'y' } },
              422, 'validation_failed' ],
            [ 'refresh with an unknown token', POST => '/auth/refresh',
              { json => { refresh_token => 'A' x 43 } },
              401, 'invalid_refresh_token' ],
            [ 'login with a GET', GET => '/auth/login', {},
              405, 'method_not_allowed' ],
        );
        for my $c (@cases) {
            my ($name, $m, $path, $a, $st, $code) = @$c;
            my $r = call($m, $path, %$a);
            is $r->{status}, $st, "$name: $st";
            my $v = vars_of($r->{id});
            is $v->{err}, $code, "$name: \$fluentai_error_code = $code";
            like $v->{user} // 'missing', qr/^-?$/,
                 "$name: no \$fluentai_user_id";
        }

        # a verified token, then a failure: both are logged
        my $r = call(POST => '/user/change-password',
                     headers => { Authorization => "Bearer $login{access}" },
                     json => { currentPassword => 'not my password',
                               newPassword => 'a new password 2' });
        is $r->{status}, 401, 'change-password, wrong current: 401';
        my $v = vars_of($r->{id});
        is $v->{err}, 'current_password_incorrect',
           'change-password: $fluentai_error_code';
        is $v->{user}, $login{uid}, 'change-password: $fluentai_user_id';
        is $v->{sid}, $login{sid}, 'change-password: $fluentai_session_id';

        # a location the module does not handle: the variables are unset
        $r = call(GET => '/open/x');
        is $r->{status}, 200, 'a plain proxied location: 200';
        $v = vars_of($r->{id});
        is $v->{user}, '-', 'plain location: $fluentai_user_id not found';
        is $v->{err}, '-', 'plain location: $fluentai_error_code not found';
    };

    my @rejected;      # request ids that must never reach the backend
    my @passed;        # ... and that must

    subtest 'gate: a good token reaches the backend with the user id' => sub {
        my $r = call(GET => '/api/lessons/1',
                     headers => { Authorization => "Bearer $login{access}" });
        is $r->{status}, 200, 'GET /api/lessons/1: 200';
        is $r->{body}, "user=$login{uid} sid=$login{sid}\n",
           'the backend got X-User-Id and X-Session-Id';
        push @passed, $r->{id};
        my $v = vars_of($r->{id});
        is $v->{user}, $login{uid}, 'logged: $fluentai_user_id';
        is $v->{err}, '', 'logged: no error code';

        $r = call(POST => '/api/lessons',
                  headers => { Authorization => "Bearer $reg{access}",
                               'X-User-Id' => 'attacker',
                               'X-Session-Id' => 'forged',
                               'Content-Type' => 'application/json' },
                  body => '{"title":"x"}');
        is $r->{status}, 200, 'POST with a body: 200';
        is $r->{body}, "user=$reg{uid} sid=$reg{sid}\n",
           'a client X-User-Id is replaced by the verified one';
        push @passed, $r->{id};

        # 30 s leeway on exp
        my $t = jwt(sub => $login{uid}, sid => $login{sid},
                    iat => time - 700, exp => time - 10);
        $r = call(GET => '/api/x', headers => { Authorization => "Bearer $t" });
        is $r->{status}, 200, 'expired 10 s ago (within the leeway): 200';
        push @passed, $r->{id};

        # stateless: a logged-out session's token still passes the gate
        # until it expires (README: "Protecting other locations")
        my $lr = call(POST => '/auth/logout',
                      headers => { Authorization => "Bearer $reg{access}" });
        is $lr->{status}, 200, 'logout of the register session';
        is psql('SELECT revoked_at IS NOT NULL FROM sessions WHERE id = $1',
                $reg{sid}), 't', '... revoked in the database';
        $r = call(GET => '/api/x',
                  headers => { Authorization => "Bearer $reg{access}" });
        is $r->{status}, 200, 'its token still passes the stateless gate';
        is $r->{body}, "user=$reg{uid} sid=$reg{sid}\n", '... with its ids';
        push @passed, $r->{id};

        $r = call(GET => '/api/public/info');
        is $r->{status}, 200, 'fluentai_auth_jwt off in a nested location: 200';
        is $r->{body}, "user= sid=\n", '... without ids';
        push @passed, $r->{id};
    };

    subtest 'gate: missing or bad tokens never reach the backend' => sub {
        my $other_key = 'another secret that is long enough, 48 bytes!!';
        my @cases = (
            [ 'no Authorization', {}, 'not_authenticated', 'Bearer' ],
            [ 'Basic credentials',
              { Authorization => 'Basic dXNlcjpwYXNz' },
              'not_authenticated', 'Bearer' ],
            [ 'an empty bearer', { Authorization => 'Bearer ' },
              'not_authenticated', 'Bearer' ],
            [ 'garbage', { Authorization => 'Bearer abc.def.ghi' },
              'invalid_token', 'Bearer error="invalid_token"' ],
            [ 'another key',
              { Authorization => 'Bearer ' . jwt(sub => $login{uid},
                                                 sid => $login{sid},
                                                 key => $other_key) },
              'invalid_token', 'Bearer error="invalid_token"' ],
            [ 'a tampered payload',
              { Authorization => 'Bearer ' . do {
                    my ($h, $p, $s) = split /\./, $login{access};
                    my $c = claims($login{access});
                    $c->{sub} = $reg{uid} eq $c->{sub}
                              ? '00000000-0000-4000-8000-000000000000'
                              : $reg{uid};
                    join '.', $h, encode_base64url($JSON->encode($c)), $s;
                } },
              'invalid_token', 'Bearer error="invalid_token"' ],
            [ 'alg none',
              { Authorization => 'Bearer ' . jwt(
                    header => { alg => 'none', typ => 'JWT' },
                    sub => $login{uid}, sid => $login{sid}) },
              'invalid_token', 'Bearer error="invalid_token"' ],
            [ 'type refresh',
              { Authorization => 'Bearer ' . jwt(sub => $login{uid},
                                                 sid => $login{sid},
                                                 type => 'refresh') },
              'invalid_token', 'Bearer error="invalid_token"' ],
            [ 'the refresh token as a bearer',
              { Authorization => "Bearer $login{refresh}" },
              'invalid_token', 'Bearer error="invalid_token"' ],
            [ 'expired an hour ago',
              { Authorization => 'Bearer ' . jwt(sub => $login{uid},
                                                 sid => $login{sid},
                                                 iat => time - 7200,
                                                 exp => time - 3600) },
              'token_expired', 'Bearer error="invalid_token"' ],
        );
        for my $c (@cases) {
            my ($name, $h, $code, $challenge) = @$c;
            for my $m (qw(GET POST)) {
                my %a = (headers => { %$h, 'X-User-Id' => 'attacker' });
                if ($m eq 'POST') {
                    $a{headers}{'Content-Type'} = 'application/json';
                    $a{body} = '{"title":"' . ('x' x 2000) . '"}';
                }
                my $r = call($m => '/api/lessons', %a);
                push @rejected, $r->{id};
                is $r->{status}, 401, "$name, $m: 401";
                my $j = $r->{json} // {};
                is $j->{code}, $code, "$name, $m: code $code";
                is $j->{error}, 'authentication_error',
                   "$name, $m: error authentication_error";
                is $j->{status_code}, 401, "$name, $m: status_code 401";
                ok defined $j->{message} && length $j->{message},
                   "$name, $m: a message";
                like $r->{headers}{'content-type'} // '',
                     qr{^application/json}, "$name, $m: JSON";
                is $r->{headers}{'www-authenticate'}, $challenge,
                   "$name, $m: WWW-Authenticate: $challenge";
                unlike $r->{body}, qr/^user=/m,
                       "$name, $m: not the backend's answer";
                is vars_of($r->{id})->{err}, $code,
                   "$name, $m: \$fluentai_error_code = $code";
            }
        }

        # the gate's 401 carries CORS headers for a listed origin
        my $r = call(GET => '/api/lessons',
                     headers => { Origin => $ORIGIN });
        push @rejected, $r->{id};
        is $r->{status}, 401, 'no token, from a listed origin: 401';
        is $r->{headers}{'access-control-allow-origin'}, $ORIGIN,
           '... with Access-Control-Allow-Origin';
        is $r->{headers}{'access-control-allow-credentials'}, 'true',
           '... and Access-Control-Allow-Credentials';
    };

    subtest 'gate: a CORS preflight passes, without any user id' => sub {
        my $r = call(OPTIONS => '/api/lessons', headers => {
            Origin => $ORIGIN, 'Access-Control-Request-Method' => 'GET',
            'X-User-Id' => 'attacker', 'X-Session-Id' => 'forged' });
        is $r->{status}, 200, 'OPTIONS without a token reaches the backend';
        is $r->{body}, "user= sid=\n",
           '... and a client X-User-Id does not (the variable is empty)';
        push @passed, $r->{id};
    };

    subtest 'gate: the connection survives a rejected request body' => sub {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => server_port(),
                                      Timeout => 5 * $TF);
        ok $s, 'connected' or return;
        my $id = tid();
        push @rejected, $id;
        my $body = '{"x":"' . ('y' x 5000) . '"}';
        print $s "POST /api/lessons HTTP/1.1\r\nHost: localhost\r\n"
               . "X-Test-Id: $id\r\nContent-Type: application/json\r\n"
               . 'Content-Length: ' . length($body) . "\r\n\r\n$body"
               . "GET /health HTTP/1.1\r\nHost: localhost\r\n"
               . "Connection: close\r\n\r\n";
        my $buf = '';
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm(10 * $TF);
        eval { while (sysread($s, $buf, 65536, length $buf)) { } };
        alarm(0);
        my @st = $buf =~ m{HTTP/1\.1 (\d{3}) }g;   # bodies have no newline
        is "@st", '401 200',
           'a POST with a body refused by the gate, then the next request '
           . 'on the same connection';
    };

    subtest 'gate: "satisfy any" with allow/deny' => sub {
        my $r = call(GET => '/any-allowed/x');
        is $r->{status}, 200,
           'no token, but "allow 127.0.0.1" grants under satisfy any'
            or diag $r->{body};
        is $r->{body}, "user= sid=\n", '... and the backend got no user id';
        ok !exists $r->{headers}{'www-authenticate'},
           '... and no Bearer challenge';
        push @passed, $r->{id};

        $r = call(GET => '/any-denied/x');
        is $r->{status}, 401, 'no token and "deny all": 401';
        is $r->{headers}{'www-authenticate'}, 'Bearer',
           '... with the Bearer challenge';
        is vars_of($r->{id})->{err}, 'not_authenticated',
           '... and $fluentai_error_code set for an error_page';
        push @rejected, $r->{id};

        $r = call(GET => '/any-denied/x',
                  headers => { Authorization => 'Bearer x.y.z' });
        is $r->{status}, 401, 'a bad token and "deny all": 401';
        is $r->{headers}{'www-authenticate'}, 'Bearer error="invalid_token"',
           '... invalid_token challenge';
        push @rejected, $r->{id};

        $r = call(GET => '/any-denied/x',
                  headers => { Authorization => "Bearer $login{access}" });
        is $r->{status}, 200, 'a good token grants under satisfy any';
        is $r->{body}, "user=$login{uid} sid=$login{sid}\n",
           '... with the verified ids';
        push @passed, $r->{id};
    };

    subtest 'the backend saw exactly the requests that passed' => sub {
        # every passed request is logged by the backend (so the log works)
        for my $id (@passed) {
            ok log_line($BACKEND_LOG, $id), "passed request $id reached it";
        }
        my %in_log = map { /^id=(\S+)/ ? ($1 => 1) : () }
                     split /\n/, slurp($BACKEND_LOG);
        my @leaked = grep { $in_log{$_} } @rejected;
        ok @rejected >= 20 && !@leaked,
           scalar(@rejected) . ' rejected requests: none reached the backend'
            or diag "leaked: @leaked";
    };

    stop_nginx();
}

done_testing();
