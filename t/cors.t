# CORS (fluentai_cors_origins), as the contract says: a listed origin gets
# Access-Control-Allow-Origin: <that origin>, Access-Control-Allow-
# Credentials: true and Vary: Origin on every module response, errors
# included (and Access-Control-Expose-Headers: Retry-After,
# WWW-Authenticate, so that a page can read them); a preflight OPTIONS answers 204 with the allowed methods,
# "Authorization, Content-Type" and a max age; any other origin gets no CORS
# header; "*" (and malformed origins) fail the configuration.

use strict;
use warnings;

use Test::More;
use FluentAI::Test;
use Test::Nginx::Util ();

my $A = 'http://localhost:3000';
my $B = 'https://app.example.com';

# method lists the module serves, per path (its Allow header)
my %ALLOW = (
    '/auth/register'        => 'POST, OPTIONS',
    '/auth/login'           => 'POST, OPTIONS',
    '/auth/refresh'         => 'POST, OPTIONS',
    '/auth/logout'          => 'POST, OPTIONS',
    '/auth/profile'         => 'GET, HEAD, OPTIONS',
    '/user/profile'         => 'GET, HEAD, PUT, OPTIONS',
    '/user/change-password' => 'POST, OPTIONS',
    '/health'               => 'GET, HEAD, OPTIONS',
);

sub vary_has_origin {
    my ($r) = @_;
    return grep { lc($_) eq 'origin' }
           split /\s*,\s*/, $r->{headers}{vary} // '';
}

# a response for a listed origin
sub cors_ok {
    my ($name, $r, $origin) = @_;
    is $r->{headers}{'access-control-allow-origin'}, $origin,
       "$name: Access-Control-Allow-Origin is the origin";
    is $r->{headers}{'access-control-allow-credentials'}, 'true',
       "$name: Access-Control-Allow-Credentials: true";
    is $r->{headers}{'access-control-expose-headers'},
       'Retry-After, WWW-Authenticate',
       "$name: the page may read Retry-After and WWW-Authenticate";
    ok vary_has_origin($r), "$name: Vary: Origin";
}

# a response for an origin that is not listed (or no origin)
sub no_cors {
    my ($name, $r) = @_;
    my @cors = grep { /^access-control-/ } keys %{ $r->{headers} };
    ok !@cors, "$name: no Access-Control-* header"
        or diag join ', ', map { "$_: $r->{headers}{$_}" } @cors;
    ok vary_has_origin($r), "$name: Vary: Origin (the answer depends on it)";
}

my $ok = start_nginx(
    main_config => fluentai_main_config(),
    http_config => fluentai_http_config(cors_origins => "$A $B"),
    config      => fluentai_locations(),
);

SKIP: {
    skip 'nginx did not start', 1 unless $ok;

    subtest 'preflight from a listed origin: 204 on every endpoint' => sub {
        for my $path (sort keys %ALLOW) {
            for my $origin ($A, $B) {
                my $r = api(OPTIONS => $path, headers => {
                    Origin => $origin,
                    'Access-Control-Request-Method' => 'POST',
                    'Access-Control-Request-Headers' =>
                        'authorization,content-type',
                });
                my $n = "OPTIONS $path from $origin";
                is $r->{status}, 204, "$n: 204";
                is $r->{body}, '', "$n: no body";
                cors_ok($n, $r, $origin);
                is $r->{headers}{'access-control-allow-methods'},
                   $ALLOW{$path}, "$n: Allow-Methods = $ALLOW{$path}";
                my %h = map { lc($_) => 1 } split /\s*,\s*/,
                        $r->{headers}{'access-control-allow-headers'} // '';
                ok $h{authorization} && $h{'content-type'},
                   "$n: Allow-Headers has Authorization and Content-Type";
                like $r->{headers}{'access-control-max-age'} // '',
                     qr/^[1-9]\d*$/, "$n: a max age";
                is $r->{headers}{allow}, $ALLOW{$path}, "$n: Allow";
            }
        }
    };

    subtest 'preflight from other origins: no CORS headers' => sub {
        my @others = (
            'http://evil.example',
            'http://localhost:3001',
            'http://localhost:300',
            'http://localhost:30000',
            'https://localhost:3000',            # other scheme
            'http://localhost:3000/',            # not an origin
            'http://localhost:3000.evil.example',
            'https://app.example.com.evil.example',
            'HTTP://LOCALHOST:3000',             # not as listed
            'null',
            '*',
            '',
        );
        for my $origin (@others) {
            my $r = api(OPTIONS => '/auth/login', headers => {
                Origin => $origin,
                'Access-Control-Request-Method' => 'POST',
            });
            my $n = "OPTIONS from '$origin'";
            is $r->{status}, 204, "$n: 204 (Allow: $ALLOW{'/auth/login'})";
            no_cors($n, $r);
        }
        my $r = api(OPTIONS => '/auth/profile');
        is $r->{status}, 204, 'OPTIONS without Origin: 204';
        no_cors('OPTIONS without Origin', $r);
        is $r->{headers}{allow}, $ALLOW{'/auth/profile'},
           'OPTIONS without Origin: Allow';
    };

    # every kind of module response, for a listed origin and another one
    my $email = unique_email('cors');
    my $pw = 'correct horse 1';
    my %tok;
    my @flow = (
        [ 'health 200', GET => '/health', 200 ],
        [ 'health HEAD 200', HEAD => '/health', 200 ],
        [ 'register 200', POST => '/auth/register', 200,
          json => { name => 'Cora', email => $email, password => $pw },
          keep => 1 ],
        [ 'register 409', POST => '/auth/register', 409,
          json => { name => 'Cora', email => $email, password => $pw } ],
        [ 'register 422', POST => '/auth/register', 422,
          json => { name => 'C', email => 'x', password => 'y' } ],
        [ 'register 400', POST => '/auth/register', 400,
          headers => { 'Content-Type' => 'application/json' },
          body => '{"name"' ],
        [ 'register 415', POST => '/auth/register', 415,
          headers => { 'Content-Type' => 'text/plain' }, body => 'hi' ],
        [ 'register 413', POST => '/auth/register', 413,
          headers => { 'Content-Type' => 'application/json' },
          body => '{"name":"' . ('x' x 17000) . '"}' ],
        [ 'register 405', GET => '/auth/register', 405 ],
        [ 'login 200', POST => '/auth/login', 200,
          json => { email => $email, password => $pw }, keep => 1 ],
        [ 'login 401', POST => '/auth/login', 401,
          json => { email => $email, password => 'wrong password' } ],
        [ 'profile 200', GET => '/auth/profile', 200, auth => 1 ],
        [ 'profile 401 (no token)', GET => '/auth/profile', 401 ],
        [ 'profile 401 (bad token)', GET => '/auth/profile', 401,
          headers => { Authorization => 'Bearer a.b.c' } ],
        [ 'user profile PUT 200', PUT => '/user/profile', 200, auth => 1,
          json => { bio => 'cors' } ],
        [ 'change password 401', POST => '/user/change-password', 401,
          auth => 1, json => { currentPassword => 'not it at all',
                               newPassword => 'another one 2' } ],
        [ 'refresh 200', POST => '/auth/refresh', 200, refresh => 1,
          keep => 1 ],
        [ 'refresh 401', POST => '/auth/refresh', 401,
          json => { refresh_token => 'A' x 43 } ],
        [ 'logout 200', POST => '/auth/logout', 200 ],
    );

    for my $origin ($A, undef, 'http://evil.example') {
        my $label = $origin // 'no Origin';
        subtest "every kind of response, $label" => sub {
            %tok = ();
            $email = unique_email('cors');
            for my $f (@flow) {
                my ($name, $method, $path, $want, %o) = @$f;
                my %h = %{ $o{headers} // {} };
                $h{Origin} = $origin if defined $origin;
                $h{Authorization} = "Bearer $tok{access_token}"
                    if $o{auth} && $tok{access_token};
                my %a = (headers => \%h);
                $a{body} = $o{body} if defined $o{body};
                if ($o{json}) {
                    my %j = %{ $o{json} };
                    $j{email} = $email if exists $j{email}
                                          && $j{email} =~ /^cors-/;
                    $a{json} = \%j;
                }
                $a{json} = { refresh_token => $tok{refresh_token} // '' }
                    if $o{refresh};
                my $r = api($method, $path, %a);
                is $r->{status}, $want, "$name: $want" or diag $r->{body};
                if ($o{keep} && $r->{json}) {
                    $tok{$_} = $r->{json}{$_} for qw(access_token
                                                     refresh_token);
                }
                if (defined $origin && $origin eq $A) {
                    cors_ok($name, $r, $A);
                    if ($want == 405) {
                        is $r->{headers}{allow}, $ALLOW{$path},
                           "$name: Allow";
                    }
                } else {
                    no_cors($name, $r);
                }
            }
        };
    }

    subtest 'a second listed origin, and two Origin headers' => sub {
        my $r = api(GET => '/health', headers => { Origin => $B });
        is $r->{status}, 200, 'health from the second origin: 200';
        cors_ok('health from the second origin', $r, $B);
        is(($r->{headers}{'access-control-allow-origin'} // '') =~ tr/,//, 0,
           'exactly one Access-Control-Allow-Origin value');

        # never a "*" and never more than the one origin
        my $raw = Test::Nginx::Util::http_request(
            raw => "GET /health HTTP/1.1\r\nHost: localhost\r\n"
                 . "Origin: $A\r\nConnection: close\r\n\r\n",
            timeout => 10 * Test::Nginx::Util::timeout_factor());
        my @acao = grep { lc $_->[0] eq 'access-control-allow-origin' }
                   @{ $raw->{headers} };
        is scalar(@acao), 1, 'one Access-Control-Allow-Origin header';
        is $acao[0][1], $A, '... with the origin, not "*"';
        my @vary = grep { lc $_->[0] eq 'vary' } @{ $raw->{headers} };
        is scalar(grep { $_->[1] =~ /\bOrigin\b/i } @vary), 1,
           'Vary: Origin once';
    };

    # without fluentai_cors_origins no origin gets CORS headers
    my $ok2 = start_nginx(
        main_config => fluentai_main_config(),
        http_config => fluentai_http_config(),
        config      => fluentai_locations(),
    );
    subtest 'no fluentai_cors_origins: no CORS headers for anyone' => sub {
        plan skip_all => 'nginx did not start' unless $ok2;
        my $r = api(GET => '/health', headers => { Origin => $A });
        is $r->{status}, 200, 'health: 200';
        no_cors('health', $r);
        $r = api(OPTIONS => '/auth/login', headers => {
            Origin => $A, 'Access-Control-Request-Method' => 'POST' });
        is $r->{status}, 204, 'preflight: 204';
        no_cors('preflight', $r);
        $r = api(GET => '/auth/profile', headers => { Origin => $A });
        is $r->{status}, 401, 'profile without a token: 401';
        no_cors('401', $r);
    };

    stop_nginx();
}

# configuration errors: nginx must refuse to start
my @bad = (
    [ '*', qr/"\*" cannot be used with credentials/ ],
    [ "$A *", qr/"\*" cannot be used with credentials/ ],
    [ 'localhost:3000', qr/invalid origin "localhost:3000"/ ],
    [ 'http://localhost:3000/', qr/invalid origin/ ],
    [ 'ftp://files.example.com', qr/invalid origin/ ],
);
for my $b (@bad) {
    my ($origins, $re) = @$b;
    my $r = Test::Nginx::Util::start_server(
        name        => $0,
        must_die    => 1,
        main_config => fluentai_main_config(),
        http_config => fluentai_http_config(cors_origins => $origins),
        config      => fluentai_locations(),
    );
    ok !$r->{ok}, "fluentai_cors_origins $origins: nginx refuses to start";
    like(($r->{stderr} // '') . ($r->{error} // ''), $re,
         "fluentai_cors_origins $origins: says why");
    Test::Nginx::Util::stop_server() if $r->{ok};
}

done_testing();
