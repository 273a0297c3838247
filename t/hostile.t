#!/usr/bin/perl
# Hostile HTTP input through the real server, over raw sockets
# (IO::Socket::INET), so that malformed bytes reach nginx unchanged.
#
#   t/run-suites t/hostile.t
#
# Every answer must be the module's JSON 4xx (the contract's error shape)
# or, for input that is broken HTTP, nginx's own 4xx page produced before
# the module runs; never a 5xx, never a crash ("exited on signal", a
# changed worker pid), never an [alert]/[crit]/[emerg] line.
#
# Cases: invalid and overlong UTF-8, surrogates, NUL (escaped \u0000 and a
# raw 0x00) in JSON strings, duplicate keys, 10,000-deep nesting, huge
# numbers, a BOM, a 1 MB header line, a 1 MB request line, too many headers,
# a body dribbled too slowly (client_body_timeout 2s: nginx gives up with
# 408 and closes), chunked bodies (small: works; over 16 KiB: 413 JSON;
# malformed: nginx's 400), conflicting or bad Content-Length, unknown and
# malformed methods, pipelined requests (answers complete and in order),
# NUL and garbage in headers, clients that vanish mid-request (while the
# body is read, while argon2 runs on the thread pool).
#
# Findings documented here (nginx core, outside the module's control):
#   - TRACE is refused by nginx's core with its own HTML 405 before any
#     location handler runs;
#   - a body that arrives too slowly is "answered" by nginx with 408 in the
#     access log and a closed connection: nginx's core terminates such a
#     request without sending a response (ngx_http_finalize_request).

use strict;
use warnings;

use Test::More;
use FluentAI::Test;
use IO::Select;
use IO::Socket::INET;
use Socket qw(SHUT_WR);
use Time::HiRes qw(time sleep);

my $TF = Test::Nginx::Util::timeout_factor();
my $VALGRIND = $Test::Nginx::Util::UseValgrind;
my $PORT = server_port();

my $servroot = Test::Nginx::Util::servroot();
my $ACCESS = "$servroot/logs/hostile.log";

start_nginx(
    main_config => fluentai_main_config(),
    http_config => fluentai_http_config()
        . "    log_format hostile '\$status \"\$request_method \$uri\" "
        . "code=\$fluentai_error_code';\n"
        . "    access_log logs/hostile.log hostile;\n",
    config => fluentai_locations() . "    client_body_timeout 2s;\n",
) or BAIL_OUT('nginx did not start');

my @WORKERS = workers();

# ------------------------------------------------------------- raw HTTP

# exchange($raw, shut => 1, pause_after => [$bytes, $seconds],
#          timeout => $s): connect, send $raw (reading at the same time, so
# an early answer is not lost), read until EOF.  Returns
# { responses => [...], rest => unparsed bytes, eof => 1|0, error,
#   elapsed }.
sub exchange {
    my ($raw, %o) = @_;
    my $timeout = ($o{timeout} // 10) * $TF;
    my $t0 = time;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $PORT,
                                  Proto => 'tcp', Timeout => $timeout)
        or return { responses => [], error => "connect: $!", rest => '' };
    binmode $s;
    $s->blocking(0);
    my $sel = IO::Select->new($s);
    my ($off, $buf, $eof, $err) = (0, '', 0, undef);
    my $deadline = $t0 + $timeout;
    my $stop_at = $o{pause_after} ? $o{pause_after}[0] : length $raw;
    local $SIG{PIPE} = 'IGNORE';
    while (!$eof && time < $deadline) {
        my $want_write = $off < $stop_at;
        my ($r, $w) = IO::Select->select($sel, $want_write ? $sel : undef,
                                         undef, $deadline - time);
        if ($r && @$r) {
            my $n = sysread $s, $buf, 65536, length $buf;
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EINTR};
                $err = "read: $!";
                last;
            }
            $eof = 1 if $n == 0;
        }
        if ($w && @$w && $off < $stop_at) {
            my $n = syswrite $s, $raw, $stop_at - $off, $off;
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EINTR};
                $stop_at = $off;    # the server stopped reading: read on
            } else {
                $off += $n;
            }
            shutdown $s, SHUT_WR if $o{shut} && $off >= length $raw;
        }
    }
    close $s;
    my @res;
    while (length $buf) {
        my $r = parse_one(\$buf) or last;
        push @res, $r;
    }
    return { responses => \@res, rest => $buf, eof => $eof,
             error => $err // ($eof ? undef : 'timeout'),
             elapsed => time - $t0 };
}

sub parse_one {
    my ($bufref) = @_;
    my $i = index($$bufref, "\r\n\r\n");
    return undef if $i < 0;
    my @lines = split /\r\n/, substr($$bufref, 0, $i);
    my $sl = shift @lines;
    my ($status) = $sl =~ m{^HTTP/1\.[01] (\d{3})} or return undef;
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        $h{lc $k} = exists $h{lc $k} ? "$h{lc $k}, $v" : $v;
    }
    my $len = $h{'content-length'};
    my $rest = substr($$bufref, $i + 4);
    my $body;
    if (defined $len) {
        return undef if length $rest < $len;
        $body = substr($rest, 0, $len);
        substr($$bufref, 0, $i + 4 + $len) = '';
    } else {
        $body = $rest;
        $$bufref = '';
    }
    return { status => $status, headers => \%h, body => $body,
             json => json_decode($body) };
}

sub req {
    my ($method, $path, %a) = @_;
    my $body = $a{body};
    my @h = ("Host: 127.0.0.1:$PORT");
    push @h, 'Connection: ' . ($a{keepalive} ? 'keep-alive' : 'close');
    my $ct = exists $a{type} ? $a{type} : 'application/json';
    push @h, "Content-Type: $ct" if defined $body && defined $ct;
    push @h, 'Content-Length: ' . length $body
        if defined $body && !$a{no_length};
    push @h, @{ $a{headers} // [] };
    return "$method $path HTTP/1.1\r\n" . join('', map { "$_\r\n" } @h)
           . "\r\n" . ($body // '');
}

# ------------------------------------------------------------- checks

# the module's JSON error: status, code, the contract's shape
sub json_error_ok {
    my ($x, $status, $code, $name) = @_;
    my $r = ref $x eq 'HASH' && $x->{responses} ? $x->{responses}[0] : $x;
    subtest $name => sub {
        ok $r, 'an answer came' or return diag explain $x;
        is $r->{status}, $status, "status $status";
        like $r->{headers}{'content-type'} // '', qr{^application/json},
            'Content-Type: application/json';
        my $j = $r->{json};
        ok ref $j eq 'HASH', 'body is a JSON object' or diag $r->{body};
        $j = {} unless ref $j eq 'HASH';
        is $j->{code}, $code, "code $code";
        is $j->{status_code}, $status, 'status_code';
        ok defined $j->{error} && length $j->{error}
           && defined $j->{message} && length $j->{message},
           'error and message present';
    };
}

# nginx's own answer (no module): status, HTML page, not JSON
sub nginx_error_ok {
    my ($x, $statuses, $name) = @_;
    my $r = $x->{responses}[0];
    my %ok = map { $_ => 1 } @$statuses;
    subtest $name => sub {
        ok $r, 'an answer came' or return diag explain $x;
        ok $ok{ $r->{status} }, "status $r->{status} in @$statuses";
        like $r->{headers}{'content-type'} // '', qr{^text/html},
            "nginx's own HTML page";
        like $r->{body}, qr{<center>nginx(?:/[\d.]+)?</center>}, 'from nginx';
    };
}

my $log_mark = error_log_mark();
sub no_trouble_since_mark {
    my ($name) = @_;
    my $log = error_log_since($log_mark);
    my @bad = grep { /\[(?:alert|crit|emerg)\]|exited on signal/ }
              split /\n/, $log;
    ok !@bad, "$name: no [alert]/[crit]/[emerg], no crash in the log"
        or diag join "\n", @bad[0 .. ($#bad > 9 ? 9 : $#bad)];
    $log_mark = error_log_mark();
}

sub workers {
    return () if $VALGRIND;
    my $pid = Test::Nginx::Util::_read_pidfile() or return ();
    return Test::Nginx::Util::_children_of($pid);
}

sub access_lines { my $d = Test::Nginx::Util::read_file_text($ACCESS);
                   return split /\n/, $d }

# a user for the cases that need a valid token
my $email = unique_email('hostile');
my $reg = api(POST => '/auth/register',
              json => { name => 'Hostile', email => $email,
                        password => 'hostile password' });
is $reg->{status}, 200, 'setup: register';
my $ACCESS_TOKEN = $reg->{json}{access_token} // '';

# ------------------------------------------------------------- JSON bodies

my $PW = '"password":"12345678"';
my @json_cases = (
    # [ name, endpoint, body, status, code ]
    ['invalid UTF-8 (0xFF) in a string', '/auth/register',
     qq({"name":"Ann\xff","email":"a\@b.co",$PW}), 400, 'invalid_json'],
    ['lone continuation byte 0x80', '/auth/login',
     qq({"email":"\x80\@b.co",$PW}), 400, 'invalid_json'],
    ['truncated UTF-8 sequence at the end of a string', '/auth/login',
     qq({"email":"a\@b.co","password":"12345678\xE2\x82"}), 400,
     'invalid_json'],
    ['overlong UTF-8 "/" (C0 AF)', '/auth/login',
     qq({"email":"\xC0\xAF\@b.co",$PW}), 400, 'invalid_json'],
    ['overlong 3-byte UTF-8 (E0 80 AF)', '/auth/register',
     qq({"name":"x\xE0\x80\xAFy","email":"a\@b.co",$PW}), 400,
     'invalid_json'],
    ['UTF-8 encoded surrogate (ED A0 80)', '/auth/register',
     qq({"name":"x\xED\xA0\x80y","email":"a\@b.co",$PW}), 400,
     'invalid_json'],
    ['escaped lone surrogate \\ud800', '/auth/register',
     qq({"name":"x\\ud800y","email":"a\@b.co",$PW}), 400, 'invalid_json'],
    ['escaped NUL \\u0000 in a string', '/auth/login',
     qq({"email":"a\\u0000\@b.co",$PW}), 400, 'invalid_json'],
    ['escaped NUL \\u0000 in a password', '/auth/register',
     qq({"name":"Ann","email":"a\@b.co","password":"1234\\u00005678"}), 400,
     'invalid_json'],
    ['raw NUL byte in a string', '/auth/login',
     qq({"email":"a\x00\@b.co",$PW}), 400, 'invalid_json'],
    ['raw NUL byte after the object', '/auth/login',
     qq({"email":"a\@b.co",$PW}\x00), 400, 'invalid_json'],
    ['NUL byte in a key', '/auth/login',
     qq({"em\\u0000ail":"a\@b.co",$PW}), 400, 'invalid_json'],
    ['duplicate keys', '/auth/login',
     qq({"email":"a\@b.co","email":"c\@d.co",$PW}), 400, 'invalid_json'],
    ['duplicate keys (password)', '/auth/register',
     qq({"name":"Ann","email":"a\@b.co",$PW,$PW}), 400, 'invalid_json'],
    ['10,000 opening brackets, unterminated', '/auth/login',
     '[' x 10_000, 400, 'invalid_json'],
    ['8,000-deep balanced arrays inside an object (16 KB)', '/auth/login',
     qq({"email":) . ('[' x 8000) . (']' x 8000) . '}', 400,
     'invalid_json'],
    ['10,000-deep objects (50 KB): over the body limit', '/auth/login',
     ('{"a":' x 10_000) . '1' . ('}' x 10_000), 413, 'payload_too_large'],
    ['huge number 1e999999', '/auth/login',
     qq({"email":"a\@b.co","password":1e999999}), 400, 'invalid_json'],
    ['huge number -1e999999', '/auth/login',
     qq({"email":"a\@b.co","password":-1e999999}), 400, 'invalid_json'],
    ['huge integer 123456789012345678901234567890', '/auth/login',
     qq({"email":"a\@b.co","password":"12345678",)
     . qq("remember":123456789012345678901234567890}), 400, 'invalid_json'],
    ['body is only a huge number', '/auth/register', '1e999999', 400,
     'invalid_json'],
    ['UTF-8 BOM before the object', '/auth/login',
     qq(\xEF\xBB\xBF{"email":"a\@b.co",$PW}), 400, 'invalid_json'],
    ['tiny number 1e-999999 (parses): a type error, 422', '/auth/login',
     qq({"email":"a\@b.co","password":1e-999999}), 422,
     'validation_failed'],
    ['a 16,000-byte string: valid JSON, 422', '/auth/register',
     qq({"name":") . ('x' x 16_000) . qq(","email":"a\@b.co",$PW}), 422,
     'validation_failed'],
);

for my $c (@json_cases) {
    my ($name, $path, $body, $status, $code) = @$c;
    my $x = exchange(req(POST => $path, body => $body));
    json_error_ok($x, $status, $code, "$name -> $status $code");
}

# the same through PUT /user/profile (bearer checked after the body)
json_error_ok(exchange(req(PUT => '/user/profile',
                           body => qq({"bio":"x\xC0\xAFy"}),
                           headers => ["Authorization: Bearer $ACCESS_TOKEN"])),
              400, 'invalid_json', 'PUT /user/profile: overlong UTF-8 -> 400');
json_error_ok(exchange(req(POST => '/user/change-password',
                           body => qq({"currentPassword":"hostile password",)
                                   . qq("newPassword":"a\\u0000bcdefgh"}),
                           headers => ["Authorization: Bearer $ACCESS_TOKEN"])),
              400, 'invalid_json', 'change-password: \\u0000 -> 400');

no_trouble_since_mark('JSON bodies');

# ------------------------------------------------------------- big headers

{
    my $big = 'a' x (1024 * 1024);
    my $x = exchange("GET /auth/profile HTTP/1.1\r\nHost: x\r\n"
                     . "X-Big: $big\r\nConnection: close\r\n\r\n",
                     timeout => 30);
    nginx_error_ok($x, [400, 494], '1 MB header line: nginx answers 400 '
                   . 'itself');
    like $x->{responses}[0]{body} // '', qr/Request Header Or Cookie Too Large/,
        '1 MB header line: "Request Header Or Cookie Too Large"';
    like error_log_since($log_mark), qr/client sent too long header line/,
        '1 MB header line: nginx logged it';

    $x = exchange("GET /auth/profile HTTP/1.1\r\nHost: x\r\n"
                  . "Authorization: Bearer $big\r\nConnection: close\r\n\r\n",
                  timeout => 30);
    nginx_error_ok($x, [400, 494], '1 MB Authorization header: nginx 400');

    $x = exchange("GET /auth/profile?" . ('q' x (1024 * 1024))
                  . " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                  timeout => 30);
    nginx_error_ok($x, [414], '1 MB request line: nginx 414');

    my $many = join '', map { "X-H$_: " . ('v' x 100) . "\r\n" } 1 .. 1000;
    $x = exchange("GET /auth/profile HTTP/1.1\r\nHost: x\r\n$many"
                  . "Connection: close\r\n\r\n", timeout => 30);
    nginx_error_ok($x, [400, 494], '1,000 headers (100 KB): nginx 400');

    # a 7,000-byte token fits nginx's buffers: the module rejects it
    $x = exchange(req(GET => '/auth/profile',
                      headers => ['Authorization: Bearer ' . ('A' x 7000)]));
    json_error_ok($x, 401, 'invalid_token', '7,000-byte bearer token: 401');
    $x = exchange(req(GET => '/auth/profile',
                      headers => ["Authorization: Bearer \xff\xfe\x80abc.def.ghi"]));
    # a value that is not a well-formed bearer credential counts as no
    # token at all (bearer_parse): not_authenticated; invalid_token would
    # do as well
    subtest 'non-ASCII bearer token: 401 JSON' => sub {
        my $r = $x->{responses}[0] // { status => 0, json => {} };
        is $r->{status}, 401, 'status 401';
        like $r->{json}{code} // '', qr/^(?:not_authenticated|invalid_token)$/,
            'not_authenticated or invalid_token';
    };
    $x = exchange(req(GET => '/auth/profile',
                      headers => ["Authorization: Bearer a\x00b.c.d"]));
    nginx_error_ok($x, [400], 'NUL byte in a header: nginx 400');

    # $fluentai_error_code is "-" when the module never saw the request
    # (no module context), "" or a code when it did
    # (a request answered with lingering close is logged only when the
    # connection closes: wait for the lines)
    my @acc;
    for (1 .. 50) {
        @acc = grep { /^(?:400|494|414) "(?:GET \/auth\/profile|- -)"/ }
               access_lines();
        last if @acc >= 5;
        sleep 0.1;
    }
    ok @acc >= 5 && !grep({ !/ code=-$/ } @acc),
       'the too-large and NUL-header requests never reached the module'
        or diag join "\n", @acc;
    no_trouble_since_mark('big headers');
}

# ------------------------------------------------------------- slow body

{
    my $body = qq({"email":"slow\@example.com","password":"12345678"});
    my $raw = req(POST => '/auth/login', body => $body);
    my $half = length($raw) - int(length($body) / 2);
    my $x = exchange($raw, pause_after => [$half], timeout => 20);
    ok $x->{eof}, 'slow body: nginx closed the connection';
    my $r = $x->{responses}[0];
    ok !$r || $r->{status} == 408,
       'slow body: no answer, or a 408 (nginx terminates the request)'
        or diag "got $r->{status}";
    cmp_ok $x->{elapsed}, '>=', 1.5, 'slow body: after client_body_timeout '
        . '(2 s), not before';
    cmp_ok $x->{elapsed}, '<', 10 * $TF, 'slow body: not much later';
    my $found = 0;
    for (1 .. 50) {   # the access log line is written at close
        $found = grep { /^408 "POST \/auth\/login"/ } access_lines();
        last if $found;
        sleep 0.1;
    }
    ok $found, 'slow body: access log says 408';
    no_trouble_since_mark('slow body');
}

# ------------------------------------------------------------- chunked

sub chunked {
    my ($data, $size) = @_;
    my $out = '';
    while (length $data) {
        my $c = substr($data, 0, $size, '');
        $out .= sprintf("%x\r\n%s\r\n", length $c, $c);
    }
    return $out . "0\r\n\r\n";
}

{
    my $e = unique_email('hostile-chunked');
    my $body = json_encode({ name => 'Chunky', email => $e,
                             password => 'chunked password' });
    my $x = exchange(req(POST => '/auth/register', body => chunked($body, 7),
                         no_length => 1,
                         headers => ['Transfer-Encoding: chunked']));
    my $r = $x->{responses}[0] // { status => 0 };
    is $r->{status}, 200, 'chunked small JSON: register 200';
    is $r->{json}{user}{email}, $e, 'chunked small JSON: the body was read whole';
    is psql('SELECT count(*) FROM users WHERE email = $1', $e), 1,
        'chunked small JSON: the user exists';

    my $big = json_encode({ name => 'Chunky', email => $e,
                            password => 'chunked password',
                            pad => 'p' x 17_000 });
    $x = exchange(req(POST => '/auth/login', body => chunked($big, 4096),
                      no_length => 1,
                      headers => ['Transfer-Encoding: chunked']));
    json_error_ok($x, 413, 'payload_too_large', 'chunked 17 KB: 413 JSON');

    $x = exchange(req(POST => '/auth/login',
                      body => chunked('x' x (1024 * 1024), 65536),
                      no_length => 1,
                      headers => ['Transfer-Encoding: chunked']),
                  timeout => 30);
    json_error_ok($x, 413, 'payload_too_large', 'chunked 1 MB: 413 JSON');

    $x = exchange(req(POST => '/auth/login', body => "zz\r\n{}\r\n0\r\n\r\n",
                      no_length => 1,
                      headers => ['Transfer-Encoding: chunked']));
    nginx_error_ok($x, [400], 'malformed chunk size: nginx 400');

    $x = exchange(req(POST => '/auth/login', body => chunked('{}', 1),
                      headers => ['Transfer-Encoding: chunked']));
    nginx_error_ok($x, [400], 'Content-Length and Transfer-Encoding: '
                   . 'nginx 400');

    $x = exchange("POST /auth/login HTTP/1.1\r\nHost: x\r\n"
                  . "Content-Type: application/json\r\nContent-Length: -5\r\n"
                  . "Connection: close\r\n\r\n{}");
    nginx_error_ok($x, [400], 'negative Content-Length: nginx 400');

    $x = exchange(req(POST => '/auth/login', body => 'x' x 20_000));
    json_error_ok($x, 413, 'payload_too_large',
                  'Content-Length 20,000: 413 JSON');
    no_trouble_since_mark('chunked and lengths');
}

# ------------------------------------------------------------- methods

{
    my $x = exchange(req(FOO => '/auth/login', body => '{}'));
    json_error_ok($x, 405, 'method_not_allowed', 'FOO /auth/login: 405 JSON');
    is $x->{responses}[0]{headers}{allow}, 'POST, OPTIONS',
        'FOO /auth/login: Allow header';

    $x = exchange(req(PROPFIND => '/auth/profile'));
    json_error_ok($x, 405, 'method_not_allowed',
                  'PROPFIND /auth/profile: 405 JSON');

    $x = exchange("post /auth/login HTTP/1.1\r\nHost: x\r\n"
                  . "Connection: close\r\n\r\n");
    nginx_error_ok($x, [400], 'lower-case method: nginx 400');

    $x = exchange("GET\x00 /auth/login HTTP/1.1\r\nHost: x\r\n\r\n");
    nginx_error_ok($x, [400], 'NUL in the method: nginx 400');

    $x = exchange("GET /auth/login HTTP/9.9\r\nHost: x\r\n\r\n");
    ok $x->{responses}[0] && $x->{responses}[0]{status} =~ /^(?:400|505)$/,
       'HTTP/9.9: nginx 400 or 505';

    # documented: nginx's core refuses TRACE itself (HTML 405)
    $x = exchange(req(TRACE => '/auth/login'));
    nginx_error_ok($x, [405], 'TRACE: nginx core answers 405 itself');
    no_trouble_since_mark('methods');
}

# ------------------------------------------------------------- pipelining

{
    my $x = exchange(
        req(POST => '/auth/login', keepalive => 1,
            body => qq({"email":"nobody-pipe\@example.com",$PW}))
        . req(GET => '/health', keepalive => 1)
        . req(GET => '/auth/profile',
              headers => ["Authorization: Bearer $ACCESS_TOKEN"]),
        timeout => 20);
    my @r = @{ $x->{responses} };
    is scalar(@r), 3, 'pipelined: three answers';
    json_error_ok($r[0] // {}, 401, 'invalid_credentials',
                  'pipelined 1: login with an unknown email');
    is $r[1] && $r[1]{status}, 200, 'pipelined 2: health 200';
    is $r[1] && $r[1]{json}{status}, 'healthy', 'pipelined 2: health body';
    is $r[2] && $r[2]{status}, 200, 'pipelined 3: profile 200';
    is $r[2] && $r[2]{json}{email}, $email, 'pipelined 3: profile body';
    is $x->{rest}, '', 'pipelined: nothing else on the wire';

    # a refused request's body must be discarded, not read as a request
    $x = exchange(req(FOO => '/auth/login', keepalive => 1,
                      body => "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                  . req(PUT => '/auth/register', keepalive => 1,
                        body => '{"a":1}')
                  . req(GET => '/health'), timeout => 20);
    @r = @{ $x->{responses} };
    is scalar(@r), 3, 'pipelined after 405s: three answers';
    is join(' ', map { $_->{status} } @r), '405 405 200',
        'pipelined after 405s: 405, 405, then health 200 (bodies '
        . 'discarded)';

    # two requests in one write on a keepalive connection, POST bodies
    my $e2 = unique_email('hostile-pipe');
    $x = exchange(req(POST => '/auth/register', keepalive => 1,
                      body => json_encode({ name => 'Pipe', email => $e2,
                                            password => 'pipe password' }))
                  . req(POST => '/auth/login',
                        body => json_encode({ email => $e2,
                                              password => 'pipe password' })),
                  timeout => 20);
    @r = @{ $x->{responses} };
    is join(' ', map { $_->{status} } @r), '200 200',
        'pipelined register then login of the same user: 200 200, in order';
    no_trouble_since_mark('pipelining');
}

# ------------------------------------------------------------- vanishing clients

{
    # the body never completes: the client closes its side
    my $body = qq({"email":"gone\@example.com",$PW});
    my $raw = req(POST => '/auth/login', body => $body);
    my $x = exchange(substr($raw, 0, length($raw) - 10), shut => 1);
    ok !$x->{responses}[0] || $x->{responses}[0]{status} < 500,
       'client closes mid-body: no 5xx';

    # the client goes away while argon2 runs / while the query runs
    for my $i (1 .. 5) {
        my $e = unique_email('hostile-gone');
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $PORT, Proto => 'tcp');
        print $s req(POST => '/auth/register',
                     body => json_encode({ name => 'Gone', email => $e,
                                           password => 'gone password' }));
        sleep 0.001 * $i;
        close $s;
        my $s2 = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                       PeerPort => $PORT, Proto => 'tcp');
        print $s2 req(POST => '/auth/login',
                      body => json_encode({ email => $email,
                                            password => 'hostile password' }));
        sleep 0.002 * $i;
        close $s2;
    }
    # the server keeps serving
    my $ok = 0;
    my $deadline = time + 10 * $TF;
    while (time < $deadline) {
        my $r = api(GET => '/auth/profile',
                    headers => { Authorization => "Bearer $ACCESS_TOKEN" });
        if ($r->{status} == 200) { $ok = 1; last }
        sleep 0.1;
    }
    ok $ok, 'after vanished clients: profile still answers 200';
    no_trouble_since_mark('vanishing clients');
}

# ------------------------------------------------------------- the end

# nginx's core answers "HTTP/9.9" with 505 before any request exists
# (method "-"); that is the only 5xx allowed
my @fivexx = grep { /^5\d\d / && !/^505 "- -" code=-$/ } access_lines();
is scalar(@fivexx), 0, 'no 5xx in the access log (but nginx\'s own 505 for '
    . 'HTTP/9.9)' or diag join "\n", @fivexx;
unlike error_log(), qr/exited on signal/, 'no worker crashed';
is_deeply [workers()], \@WORKERS, 'the same worker process(es) as at start'
    unless $VALGRIND;
is api(GET => '/health')->{status}, 200, 'health 200 at the end';
stop_nginx();

done_testing;
