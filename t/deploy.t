# nginx.conf.example is deployable: `nginx -t` passes on it (with the
# machine-specific paths substituted: load_module, secret file, database,
# listen port, frontend root, docs directory, access log, pid/error log and
# temp paths), also with its documentation block deleted as it tells you to
# do in production; and, running, it does what its comments say:
#   - the endpoints at the contract's paths (health through the database);
#   - unknown paths under the API prefixes: the contract's JSON 404;
#   - the static frontend with its SPA fallback (/some/client/route gets
#     index.html), cache headers, JSON for a missing asset;
#   - nginx's own 405, 413, 502 and 504 in the contract's JSON shape, the
#     413 identical to the module's own;
#   - every status error_page sends to @fluentai_error (400, 403, 404, 405,
#     413, 414, 429, 494 as 431, 500, 502, 503, 504), each really raised:
#     the contract's JSON, Cache-Control: no-store, and for a listed Origin
#     Access-Control-Allow-Origin/-Credentials and Vary: Origin; for
#     another origin no Access-Control-* header (414: nginx never reads
#     the headers after a request line that is too long, so no CORS);
#   - limit_req on login: a burst beyond the allowance gets 429
#     {"error":"rate_limited","code":"rate_limited",...,"status_code":429}
#     with Retry-After, while register (its own zone) still answers;
#   - CORS preflights are not rate-limited: twenty in a second all 204;
#   - /docs and /openapi.json (the documentation block);
#   - the access log in its log_format, with the module's variables.

use strict;
use warnings;

use Test::More;
use FluentAI::Test;
use Cwd ();
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET ();
use IPC::Run ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use Test::Nginx::Util ();

my $TOP = Cwd::getcwd();
my $TF = Test::Nginx::Util::timeout_factor();
my $JSON = JSON::PP->new->utf8->canonical;

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    my $d = <$fh>;
    return $d // '';
}

sub spew {
    my ($f, $d) = @_;
    open my $fh, '>', $f or die "$f: $!\n";
    print $fh $d;
    close $fh or die "$f: $!\n";
}

my $EXAMPLE = slurp("$TOP/nginx.conf.example");
ok length $EXAMPLE, 'nginx.conf.example is there' or BAIL_OUT('no example');

# the module's own error messages (src/ngx_http_fluentai_http.c)
my %MESSAGE = do {
    my $src = slurp("$TOP/src/ngx_http_fluentai_http.c");
    my ($tbl) = $src =~ /ngx_http_fluentai_messages\[\]\s*=\s*\{(.*?)\n\};/s;
    $tbl //= '';
    $tbl =~ s/"\s*\n\s*"//g;
    $tbl =~ /\{\s*"([a-z_]+)",\s*"((?:[^"\\]|\\.)*)"\s*\}/g;
};

# --- what the example must contain --------------------------------------------

subtest 'nginx.conf.example: its parts' => sub {
    like $EXAMPLE, qr/^load_module\s+\S+ngx_http_fluentai_module\.so;/m,
         'load_module of the module';
    my ($pool) = $EXAMPLE =~ /^thread_pool\s+(\w+)\s+threads=\d+/m;
    ok $pool, 'a dedicated thread_pool';
    $pool //= 'none';
    like $EXAMPLE, qr/^\s*fluentai_thread_pool\s+\Q$pool\E;/m,
         '... used by fluentai_thread_pool';
    for my $d (qw(fluentai_database fluentai_jwt_secret_file
                  fluentai_access_token_ttl fluentai_refresh_token_ttl
                  fluentai_password_hash fluentai_cors_origins)) {
        like $EXAMPLE, qr/^\s*$d\s+\S/m, "directive $d";
    }
    like $EXAMPLE, qr/^\s*client_max_body_size\s+16k;/m,
         'client_max_body_size 16k (the module\'s own limit)';
    my %at;
    while ($EXAMPLE =~ /location\s*=\s*(\S+)\s*\{([^}]*)\}/g) {
        my ($path, $body) = ($1, $2);
        $at{$1} = { path => $path, body => $body }
            if $body =~ /fluentai_endpoint\s+(\w+)/;
    }
    my %contract = (
        register => '/auth/register', login => '/auth/login',
        refresh => '/auth/refresh', logout => '/auth/logout',
        profile => '/auth/profile', user_profile => '/user/profile',
        change_password => '/user/change-password', health => '/health',
    );
    for my $ep (sort keys %contract) {
        is $at{$ep} && $at{$ep}{path}, $contract{$ep},
           "endpoint $ep at $contract{$ep}";
    }
    my %zones = $EXAMPLE =~ /limit_req_zone\s+\S+\s+zone=(\w+):\S+\s+rate=(\S+);/g;
    for my $ep (qw(login register refresh)) {
        my ($zone) = ($at{$ep}{body} // '') =~ /limit_req\s+zone=(\w+)/;
        ok $zone && $zones{$zone}, "limit_req on $ep (zone "
                                   . ($zone // 'none') . ')';
    }
    like $EXAMPLE, qr/^\s*limit_req_status\s+429;/m, 'limit_req_status 429';
    for my $st (qw(404 413 429 502 503 504)) {
        like $EXAMPLE, qr/^\s*error_page\s+(?:\d+\s+)*$st\b[^;]*\@\w+;/m,
             "error_page $st to a named location";
    }
    like $EXAMPLE, qr/try_files\s+\$uri\s+\/index\.html;/,
         'SPA fallback: try_files $uri /index.html';
    like $EXAMPLE, qr/^\s*root\s+\/var\/www\/fluentai;/m, 'a frontend root';
    like $EXAMPLE,
         qr/API documentation.*?location\s*=\s*\/openapi\.json.*?location\s*=\s*\/docs\b.*?end of API documentation/s,
         'the /docs block, marked for deletion in production';
    like $EXAMPLE, qr/log_format\s+\w+[^;]*\$fluentai_user_id[^;]*\$fluentai_error_code/s,
         'a log_format with the module\'s variables';
    like $EXAMPLE, qr/#\s*location[^\n]*\n\s*#\s*fluentai_auth_jwt (?:on|session);\n\s*#\s*proxy_set_header X-User-Id \$fluentai_user_id;/,
         'a (commented) fluentai_auth_jwt example';
};

# --- the example, made runnable here --------------------------------------------

my @MODULES = grep { length } split /\s+/,
    ($ENV{TEST_NGINX_LOAD_MODULES}
     || "$TOP/build/ngx_http_fluentai_module.so");
my $CONNINFO = $ENV{TEST_NGINX_PG_CONNINFO}
    // die "TEST_NGINX_PG_CONNINFO is not set (run via t/run-suites)\n";
my $KEY = data_dir() . '/jwt.key';

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1) or die $!;
    my $p = $s->sockport;
    close $s;
    return $p;
}

# example_conf(prefix => dir for logs/temp, port =>, web =>, docs =>,
#              extra_locations => text, strip_docs => 1)
sub example_conf {
    my (%o) = @_;
    my $c = $EXAMPLE;
    my $n = 0;
    my $sub = sub {            # a substitution that must apply
        my ($what, $ok) = @_;
        die "nginx.conf.example: cannot substitute $what\n" unless $ok;
    };
    my $mods = join '', map { "load_module $_;\n" } @MODULES;
    $sub->('load_module', $c =~ s/^load_module\s+\S+;\n/$mods/m);
    $sub->('worker_processes',
           $c =~ s/^worker_processes\s+\S+;/worker_processes 1;/m);
    $sub->('fluentai_database',
           $c =~ s/^(\s*)fluentai_database\s+[^;]*;/$1fluentai_database "${\($o{conninfo} \/\/ $CONNINFO)}";/m);
    # behind PgBouncer in transaction mode (t/run-suites TEST_PGBOUNCER=1)
    $c =~ s/^(\s*fluentai_database\s[^;]*;\n)/$1    fluentai_database_prepare off;\n/m
        if ($ENV{TEST_NGINX_PG_PREPARE} // '') eq 'off';
    $sub->('fluentai_jwt_secret_file',
           $c =~ s/^(\s*)fluentai_jwt_secret_file\s+\S+;/$1fluentai_jwt_secret_file $KEY;/m);
    $sub->('listen', $c =~ s/^(\s*)listen\s+\S+;/$1listen 127.0.0.1:$o{port};/m);
    $sub->('root', $c =~ s{^(\s*)root /var/www/fluentai;}{$1root $o{web};}m);
    $sub->('access_log',
           $c =~ s{^(\s*)access_log\s+/\S+}{$1access_log $o{prefix}/logs/access.log}m);
    $sub->('docs path', $c =~ s{/usr/share/fluentai/docs}{$o{docs}}g);
    my $tmp = join '', map { "    ${_}_temp_path $o{prefix}/${_}_temp;\n" }
              qw(client_body proxy fastcgi uwsgi scgi);
    $sub->('http {', $c =~ s/^http \{\n/http {\n$tmp/m);
    if ($o{strip_docs}) {
        $sub->('the docs block',
               $c =~ s/^[^\n]*---\s*API documentation.*?end of API documentation[^\n]*\n//ms);
    }
    if ($o{extra_locations}) {
        $sub->('server_name',
               $c =~ s/^(\s*server_name\s+[^;]*;\n)/$1$o{extra_locations}/m);
    }
    my $vg = $Test::Nginx::Util::UseValgrind;
    my $head = '';
    $head .= "user root;\n" if $> == 0;
    $head .= 'daemon ' . ($vg ? 'off' : 'on') . ";\n"
           . 'master_process ' . ($vg ? 'off' : 'on') . ";\n"
           . "error_log logs/error.log $Test::Nginx::Util::LogLevel;\n"
           . "pid logs/nginx.pid;\n";
    return "# t/deploy.t: nginx.conf.example with local paths\n$head$c";
}

my $tmp = tempdir('fluentai-deploy-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $tmp;
my $web = "$tmp/www";
my $docs = "$tmp/docs";
make_path("$web/assets", $docs);
my $INDEX = "<!DOCTYPE html><html><head><title>FluentAI</title></head>"
          . "<body><div id=\"root\">FluentAI SPA index</div>"
          . "<script src=\"/assets/app-1a2b3c.js\"></script></body></html>\n";
spew("$web/index.html", $INDEX);
spew("$web/assets/app-1a2b3c.js", "console.log('fluentai');\n");
spew("$docs/index.html", slurp("$TOP/docs/index.html"));
spew("$docs/openapi.json", slurp("$TOP/docs/openapi.json"));

subtest 'nginx -t on nginx.conf.example' => sub {
    for my $variant ([ 'as shipped', 0 ], [ 'with /docs deleted', 1 ]) {
        my ($name, $strip) = @$variant;
        my $dir = "$tmp/t-$strip";
        make_path("$dir/logs");
        my $conf = eval {
            example_conf(prefix => $dir, port => free_port(), web => $web,
                         docs => $docs, strip_docs => $strip);
        };
        ok $conf, "$name: paths substituted" or diag $@;
        next unless $conf;
        spew("$dir/nginx.conf", $conf);
        my ($out, $err) = ('', '');
        my $ok = IPC::Run::run(
            [ $Test::Nginx::Util::NginxBinary, '-t', '-p', "$dir/",
              '-e', "$dir/logs/error.log", '-c', "$dir/nginx.conf" ],
            \undef, \$out, \$err);
        ok $ok, "$name: nginx -t exits 0" or diag "$out$err";
        like $err, qr/syntax is ok/, "$name: syntax is ok";
        like $err, qr/test is successful/, "$name: test is successful";
        unlike $err, qr/\[(?:warn|alert|crit|emerg)\]/,
               "$name: no warnings" or diag $err;
        if ($strip) {
            unlike $conf, qr/openapi\.json|location\s*=\s*\/docs/,
                   "$name: no docs location left";
        }
    }
};

# --- running it ------------------------------------------------------------------

# a port nobody listens on (502) and one that accepts but never answers (504)
my $dead_port = free_port();
my $mute = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Listen => 16, ReuseAddr => 1)
    or die "listen: $!\n";
my $mute_port = $mute->sockport;

my $extra = <<"_EOC_";
        # t/deploy.t only: upstreams that fail, for the 502/504 mappings
        location = /t/upstream-down {
            proxy_pass http://127.0.0.1:$dead_port;
        }
        location = /t/upstream-mute {
            proxy_read_timeout 1s;
            proxy_pass http://127.0.0.1:$mute_port;
        }
        # and the statuses nothing else here raises
        location = /t/forbidden { deny all; }
        location = /t/status-500 { return 500; }
        location = /t/status-503 { return 503; }
        location = /t/status-429 { return 429; }
_EOC_

my $servroot = Test::Nginx::Util::servroot();
my $CONF = example_conf(prefix => $servroot, port => server_port(),
                        web => $web, docs => $docs, extra_locations => $extra);

sub start_example {
    my ($reload, $conf) = @_;
    $conf //= $CONF;
    no warnings 'redefine';
    local *Test::Nginx::Util::gen_config = sub { $conf };
    return $reload ? reload_nginx() : start_nginx();
}

sub json_is {
    my ($name, $r, $status, $want) = @_;
    is $r->{status}, $status, "$name: $status";
    like $r->{headers}{'content-type'} // '', qr{^application/json},
         "$name: Content-Type application/json";
    is_deeply $r->{json}, $want, "$name: the contract's JSON"
        or diag $r->{body};
}

sub err_body {
    my ($error, $code, $st) = @_;
    return { error => $error, code => $code, message => $MESSAGE{$code}
             // die("no module message for $code\n"), status_code => $st };
}

sub vary_origin {
    my ($r) = @_;
    return grep { lc($_) eq 'origin' }
           split /\s*,\s*/, $r->{headers}{vary} // '';
}

sub no_cors {
    my ($name, $r) = @_;
    my @cors = grep { /^access-control-/ } keys %{ $r->{headers} };
    ok !@cors, "$name: no Access-Control-* header"
        or diag join ', ', map { "$_: $r->{headers}{$_}" } @cors;
}

# one request as raw bytes (what HTTP::Tiny will not send: a bad
# Content-Length, a 9 kB request line or cookie); the answer up to EOF
sub raw_http {
    my ($req) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => server_port(),
                                  Timeout => 10 * $TF)
        or return { status => 0, headers => {}, body => "connect: $!" };
    local $SIG{PIPE} = 'IGNORE';
    print $s $req;
    my $buf = '';
    while (my $n = sysread $s, $buf, 65536, length $buf) { }
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d{3})};
    my %h;
    for (split /\r\n/, $head // '') {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $h{lc $k} = exists $h{lc $k} ? "$h{lc $k}, $v" : $v;
    }
    return { status => $status // 0, headers => \%h, body => $body // '',
             json => json_decode($body // ''), raw => $buf };
}

# refreshes in a row until limit_req answers 429 (2r/s, burst 20)
sub rate_limit_refresh {
    my ($origin) = @_;
    my $r;
    for (1 .. 60) {
        $r = api(POST => '/auth/refresh', json => {},
                 headers => { Origin => $origin });
        last if $r->{status} == 429;
    }
    return $r;
}

my $ok = start_example(0);

SKIP: {
    skip 'nginx did not start', 1 unless $ok;

    subtest 'the API is there' => sub {
        my $r = api(GET => '/health');
        is $r->{status}, 200, 'GET /health: 200' or diag $r->{body};
        is_deeply $r->{json}, { status => 'healthy', database => 'connected' },
                  'healthy, database connected';
        $r = api(GET => '/auth/profile');
        is $r->{status}, 401, 'GET /auth/profile without a token: 401';
        is $r->{json}{code}, 'not_authenticated', '... not_authenticated';
        $r = api(OPTIONS => '/auth/login', headers => {
            Origin => 'http://localhost:5173',
            'Access-Control-Request-Method' => 'POST' });
        is $r->{status}, 204, 'preflight from a dev origin: 204';
        is $r->{headers}{'access-control-allow-origin'},
           'http://localhost:5173', '... allowed';
    };

    subtest 'unknown API paths: JSON 404' => sub {
        for my $req ([ GET => '/auth/unknown' ], [ GET => '/auth/' ],
                     [ POST => '/auth/login/extra' ],
                     [ GET => '/user/settings' ],
                     [ DELETE => '/user/profile/avatar' ]) {
            my $r = api(@$req);
            json_is("$req->[0] $req->[1]", $r, 404,
                    err_body('http_error', 'not_found', 404));
            unlike $r->{body}, qr/FluentAI SPA index/,
                   "$req->[0] $req->[1]: not the frontend";
        }
    };

    subtest 'the frontend: files and the SPA fallback' => sub {
        for my $path ('/', '/some/client/route', '/settings/profile',
                      '/lesson/42?tab=notes') {
            my $r = api(GET => $path);
            is $r->{status}, 200, "GET $path: 200";
            is $r->{body}, $INDEX, "GET $path: index.html";
            like $r->{headers}{'content-type'} // '', qr{^text/html},
                 "GET $path: text/html";
            like $r->{headers}{'cache-control'} // '', qr/no-cache/,
                 "GET $path: index.html is not cached";
        }
        my $r = api(GET => '/assets/app-1a2b3c.js');
        is $r->{status}, 200, 'an asset: 200';
        is $r->{body}, "console.log('fluentai');\n", 'an asset: the file';
        like $r->{headers}{'content-type'} // '', qr{javascript},
             'an asset: its MIME type (mime.types)';
        like $r->{headers}{'cache-control'} // '', qr/immutable/,
             'an asset: cached for good';
        json_is('a missing asset', api(GET => '/assets/gone-999.js'), 404,
                err_body('http_error', 'not_found', 404));
        json_is('POST to the frontend', api(POST => '/some/client/route',
                                              body => 'x'), 405,
                err_body('http_error', 'method_not_allowed', 405));
    };

    subtest "nginx's own errors: JSON" => sub {
        # over client_max_body_size: nginx answers before the module
        my $r = api(POST => '/auth/login',
                    headers => { 'Content-Type' => 'application/json' },
                    body => '{"email":"' . ('x' x 20000) . '"}');
        json_is('a 20 kB body', $r, 413,
                err_body('http_error', 'payload_too_large', 413));
        is $r->{json}{message}, 'Request body is too large',
           "413: the module's message, word for word";
        json_is('a dead upstream', api(GET => '/t/upstream-down'), 502,
                { error => 'service_unavailable',
                  code => 'service_unavailable',
                  message => 'Service unavailable', status_code => 502 });
        json_is('a mute upstream', api(GET => '/t/upstream-mute'), 504,
                { error => 'service_unavailable',
                  code => 'service_unavailable',
                  message => 'Service unavailable', status_code => 504 });
    };

    subtest "nginx's own errors, every status: JSON and the module's CORS" => sub {
        my $ok_origin = 'http://localhost:5173';
        my $bad_origin = 'http://localhost:5174';
        like $EXAMPLE, qr/^\s*fluentai_cors_origins\s[^;]*\Q$ok_origin\E[\s;]/m,
             "$ok_origin is a listed origin";
        unlike $EXAMPLE, qr/\Q$bad_origin\E/, "$bad_origin is not";
        my $big = '{"email":"' . ('x' x 20000) . '"}';
        # [ status, how to raise it (origin => response), expected body,
        #   why no CORS header can be sent ]
        my @cases = (
            [ 400, sub { raw_http("GET /health HTTP/1.1\r\nHost: x\r\n"
                                  . "Origin: $_[0]\r\nContent-Length: abc\r\n"
                                  . "Connection: close\r\n\r\n") },
              err_body('http_error', 'bad_request', 400) ],
            [ 400, sub { raw_http("GARBAGE\r\nOrigin: $_[0]\r\n\r\n") },
              err_body('http_error', 'bad_request', 400),
              'a malformed request line: its headers are never read' ],
            [ 403, sub { api(GET => '/t/forbidden', headers => { Origin => $_[0] }) },
              err_body('http_error', 'forbidden', 403) ],
            [ 404, sub { api(GET => '/auth/unknown', headers => { Origin => $_[0] }) },
              err_body('http_error', 'not_found', 404) ],
            [ 405, sub { api(POST => '/some/client/route', body => 'x',
                             headers => { Origin => $_[0] }) },
              err_body('http_error', 'method_not_allowed', 405) ],
            [ 413, sub { api(POST => '/auth/login', body => $big, headers => {
                             Origin => $_[0],
                             'Content-Type' => 'application/json' }) },
              err_body('http_error', 'payload_too_large', 413) ],
            [ 414, sub { raw_http('GET /auth/' . ('a' x 9000) . " HTTP/1.1\r\n"
                                  . "Host: x\r\nOrigin: $_[0]\r\n"
                                  . "Connection: close\r\n\r\n") },
              err_body('http_error', 'uri_too_long', 414),
              'the headers after a too long request line are never read' ],
            [ 429, sub { rate_limit_refresh($_[0]) },
              err_body('rate_limited', 'rate_limited', 429) ],
            [ 431, sub { raw_http("GET /health HTTP/1.1\r\nHost: x\r\n"
                                  . "Origin: $_[0]\r\nCookie: "
                                  . ('c' x 9000) . "\r\n"
                                  . "Connection: close\r\n\r\n") },
              err_body('http_error', 'request_header_too_large', 431) ],
            [ 500, sub { api(GET => '/t/status-500', headers => { Origin => $_[0] }) },
              err_body('internal_server_error', 'internal_error', 500) ],
            [ 502, sub { api(GET => '/t/upstream-down', headers => { Origin => $_[0] }) },
              err_body('service_unavailable', 'service_unavailable', 502) ],
            [ 503, sub { api(GET => '/t/status-503', headers => { Origin => $_[0] }) },
              err_body('service_unavailable', 'service_unavailable', 503) ],
            [ 504, sub { api(GET => '/t/upstream-mute', headers => { Origin => $_[0] }) },
              err_body('service_unavailable', 'service_unavailable', 504) ],
        );
        for my $c (@cases) {
            my ($st, $raise, $want, $no_cors) = @$c;
            my $name = $st == 431 ? '494 (answered 431)' : $st;
            $name .= " ($no_cors)" if $no_cors;
            my $r = $raise->($ok_origin);
            json_is("$name, listed origin", $r, $st, $want);
            is $r->{headers}{'cache-control'}, 'no-store',
               "$name: Cache-Control: no-store";
            is $r->{headers}{'retry-after'}, ($st == 429 ? 1 : undef),
               "$name: Retry-After " . ($st == 429 ? '1' : 'only on 429');
            ok vary_origin($r), "$name: Vary: Origin";
            if ($no_cors) {
                no_cors("$name, listed origin", $r);
            } else {
                is $r->{headers}{'access-control-allow-origin'}, $ok_origin,
                   "$name: Access-Control-Allow-Origin: $ok_origin";
                is $r->{headers}{'access-control-allow-credentials'}, 'true',
                   "$name: Access-Control-Allow-Credentials: true";
            }
            $r = $raise->($bad_origin);
            json_is("$name, other origin", $r, $st, $want);
            no_cors("$name, other origin", $r);
            ok vary_origin($r), "$name, other origin: Vary: Origin";
        }
    };

    subtest 'an error page reads away the body: the next request on the connection is served' => sub {
        # a 429 (as limit_req's, but not timing-dependent) before the body
        # is read
        my $body = '{"refresh_token":"x"}';
        my $r = raw_http("POST /t/status-429 HTTP/1.1\r\nHost: x\r\n"
                         . "Content-Type: application/json\r\n"
                         . 'Content-Length: ' . length($body) . "\r\n\r\n"
                         . $body
                         . "GET /auth/unknown HTTP/1.1\r\nHost: x\r\n"
                         . "Connection: close\r\n\r\n");
        my @st = $r->{raw} =~ m{HTTP/1\.1 (\d{3}) }g;
        is "@st", '429 404', 'a 429 with a body, then a 404 on the same '
                             . 'connection' or diag $r->{raw};
        my ($last) = $r->{raw} =~ /(\{[^{}]*\})\s*\z/;
        is_deeply json_decode($last // ''),
                  err_body('http_error', 'not_found', 404),
                  'the second answer: the JSON 404';
    };

    subtest 'preflights are not rate-limited: twenty in a second, all 204' => sub {
        my $t0 = Time::HiRes::time();
        my @st;
        for my $path (('/auth/login') x 10, ('/auth/register') x 10) {
            my $r = api(OPTIONS => $path, headers => {
                Origin => 'http://localhost:5173',
                'Access-Control-Request-Method' => 'POST',
                'Access-Control-Request-Headers' => 'content-type' });
            push @st, $r->{status};
        }
        my $elapsed = Time::HiRes::time() - $t0;
        # counted, 20 in under 9 s would overrun login's 1r/s + burst 10
        # (and register's 10r/m + burst 5); natively they take well under 1 s
        my $max = $Test::Nginx::Util::UseValgrind ? 9 : 1;
        ok $elapsed < $max, sprintf('sent in %.2f s (< %d s)', $elapsed, $max);
        is_deeply \@st, [ (204) x 20 ], 'all twenty: 204'
            or diag "@st";
        # the real requests still are (login: 1r/s, burst 10)
        my @real = map { api(POST => '/auth/login', json => {})->{status} }
                   1 .. 15;
        ok((grep { $_ == 429 } @real), 'logins right after: limited (429)')
            or diag "@real";
    };

    subtest '/docs and /openapi.json' => sub {
        my $r = api(GET => '/openapi.json');
        is $r->{status}, 200, 'GET /openapi.json: 200';
        like $r->{headers}{'content-type'} // '', qr{^application/json},
             '... application/json';
        is_deeply $r->{json}, json_decode(slurp("$TOP/docs/openapi.json")),
                  '... docs/openapi.json';
        for my $path ('/docs', '/docs/') {
            $r = api(GET => $path);
            is $r->{status}, 200, "GET $path: 200";
            like $r->{headers}{'content-type'} // '', qr{^text/html},
                 "$path: HTML";
            like $r->{body}, qr/swagger-ui/i, "$path: the Swagger UI page";
            like $r->{body}, qr{/openapi\.json}, "$path: loads /openapi.json";
        }
    };

    subtest 'limit_req: a burst of logins gets JSON 429s' => sub {
        my ($burst) = $EXAMPLE =~ /location\s*=\s*\/auth\/login\s*\{[^}]*burst=(\d+)/;
        my ($rate) = $EXAMPLE =~ /zone=fluentai_login:\S+\s+rate=(\d+)r\/s/;
        ok $burst && $rate, "login: rate ${\($rate // '?')}r/s, burst "
                            . ($burst // '?') or return;
        my $n = $burst + 20;
        my $t0 = Time::HiRes::time();
        # $n simultaneous logins ({} is a 422: no hashing, no database)
        my @kids;
        for my $i (1 .. $n) {
            pipe(my $rd, my $wr) or die "pipe: $!\n";
            my $pid = fork // die "fork: $!\n";
            if (!$pid) {
                close $rd;
                my $r = api(POST => '/auth/login', json => {},
                            headers => { 'X-Burst' => $i });
                print $wr $JSON->encode({
                    status => $r->{status}, body => $r->{body},
                    retry => $r->{headers}{'retry-after'},
                    type => $r->{headers}{'content-type'} });
                close $wr;
                POSIX::_exit(0);
            }
            close $wr;
            push @kids, [ $pid, $rd ];
        }
        my @res;
        for my $k (@kids) {
            my $fh = $k->[1];
            local $/;
            my $out = <$fh>;
            waitpid $k->[0], 0;
            push @res, json_decode($out // '') // { status => 'none' };
        }
        my $elapsed = Time::HiRes::time() - $t0;
        my @limited = grep { ($_->{status} // '') eq '429' } @res;
        my @passed = grep { ($_->{status} // '') eq '422' } @res;
        is @limited + @passed, $n, "all $n answered: 422 or 429"
            or diag explain [ map { $_->{status} } @res ];
        ok @limited >= 1, scalar(@limited) . ' of them 429';
        my $allowed = $burst + 1 + int($elapsed * $rate + 1);
        ok @passed <= $allowed, scalar(@passed) . " passed (at most $allowed"
                                . sprintf(' in %.1f s)', $elapsed);
        my $l = $limited[0] // {};
        is_deeply json_decode($l->{body} // ''),
                  { error => 'rate_limited', code => 'rate_limited',
                    message => 'Too many requests', status_code => 429 },
                  '429: the contract\'s JSON';
        like $l->{type} // '', qr{^application/json}, '429: application/json';
        is $l->{retry}, 1, '429: Retry-After: 1';

        # register has its own zone: not limited by the login burst
        my $r = api(POST => '/auth/register', json => {});
        is $r->{status}, 422, 'register right after: not limited (422)';
    };

    subtest 'the access log: log_format with the module\'s variables' => sub {
        my $marker = "/auth/mark-$$";
        api(GET => $marker);
        my $r = api(POST => '/auth/register', json => {},
                    headers => { 'X-Mark' => 1 });
        my $log = '';
        my $deadline = Time::HiRes::time() + 5 * $TF;
        while (Time::HiRes::time() < $deadline) {
            $log = slurp("$servroot/logs/access.log");
            last if $log =~ /\Q$marker\E/ && $log =~ /"POST \/auth\/register [^"]*" 422 .*\n\z/;
            Time::HiRes::sleep(0.05);
        }
        my @lines = split /\n/, $log;
        my ($mark) = grep { /\Q$marker\E/ } @lines;
        like $mark // '', qr/"GET \Q$marker\E HTTP\/1\.1" 404 .* user= sid= err=not_found$/,
             'a JSON 404 (nginx, @fluentai_error): its code logged';
        like $lines[-1] // '', qr/"POST \/auth\/register HTTP\/1\.1" 422 .* user= sid= err=validation_failed$/,
             'a 422: $fluentai_error_code = validation_failed';
        ok((grep { /"POST \/auth\/login HTTP\/1\.1" 429 / } @lines),
           'the 429s are logged');
        ok((grep { /"GET \/health HTTP\/1\.1" 200 .* user= sid= err=$/ } @lines),
           'a success: empty error code');
        ok((grep { /"GET \/assets\/app-1a2b3c\.js HTTP\/1\.1" 200 .* user=- sid=- err=-$/ } @lines),
           'a static file: no module variables');
        unlike $log, qr/refresh_token=/, 'no query strings in the log';
    };

    my $reloaded = start_example(1);
    subtest 'after a reload' => sub {
        ok $reloaded, 'reloaded (or restarted)' or return;
        my $r = api(GET => '/health');
        is $r->{status}, 200, '/health: 200';
        json_is('unknown API path', api(GET => '/user/nope'), 404,
                err_body('http_error', 'not_found', 404));
        is api(GET => '/some/client/route')->{body}, $INDEX,
           'SPA fallback';
    };

    # The database on a TCP host given by name or address (resolved once at
    # configuration time, README "Directives"), as a deployment with a
    # separate database server has it.
    my $tcp = example_conf(
        prefix => $servroot, port => server_port(), web => $web,
        docs => $docs,
        conninfo => "host=127.0.0.1 port=$ENV{TEST_NGINX_PG_PORT} "
                    . "dbname=$ENV{TEST_NGINX_PG_DB} "
                    . "user=$ENV{TEST_NGINX_PG_USER}");
    my $started = start_example(0, $tcp);
    subtest 'fluentai_database "host=127.0.0.1 port=..."' => sub {
        ok $started, 'nginx started' or return;
        my $r = api(GET => '/health');
        is $r->{status}, 200, '/health: 200' or diag $r->{body};
        is $r->{json}{database}, 'connected', 'database connected';
        my $email = unique_email('deploy-tcp');
        $r = api(POST => '/auth/register',
                 json => { name => 'Tcp User', email => $email,
                           password => 'correct horse 1' });
        is $r->{status}, 200, 'register: 200' or diag $r->{body};
        is psql('SELECT count(*) FROM users WHERE email = $1', $email), 1,
           '... the user is in the database';
    };

    stop_nginx();
}

close $mute;
done_testing();
