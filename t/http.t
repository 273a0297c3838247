# The HTTP face of every ngx_http_fluentai_module endpoint, mounted at the
# contract's paths: methods (405 + Allow), media types (415), bodies that
# are not JSON objects (400), size limits (413, Content-Length and
# chunked), field validation (422 with one details entry per failing
# field), 401 challenges, HEAD, CORS, and the one JSON error shape
# (Content-Type: application/json, Cache-Control: no-store).
#
# Run via t/run-suites (TEST_NGINX_PG_CONNINFO, TEST_NGINX_DATA,
# TEST_NGINX_LOAD_MODULES).  Most blocks never reach the database; the few
# that do are marked with a longer timeout.
#
# Tokens are built here at load time with the test secret
# ($TEST_NGINX_DATA/jwt.key):
#   $::Ghost       valid HS256 access token for a session that does not
#                  exist: validation (422) happens before any database
#                  access, and a valid body then gets 401 invalid_token
#   $::Real        access token for a user and session inserted with psql
#                  at load time (unique email), for the 200 GET/HEAD blocks
#   $::Expired, $::WrongKey, $::AlgNone, $::TypeRefresh   bad tokens
#
# ::err($status, $code, [field => type], ...) builds a regex for the whole
# error body: error category, code, message, status_code and, for 422,
# exactly the listed details entries (loc ["body", field] and type), in
# any key order.  Without detail arguments, a "details" key is refused.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use Digest::SHA ();
use JSON::PP ();
use MIME::Base64 ();

use Cwd ();

# nginx resolves relative paths against its prefix: keep this one absolute
our $Data = $ENV{TEST_NGINX_DATA} // Cwd::abs_path('t/data');
$ENV{TEST_NGINX_DATA} = $Data;

our $MainConfig = <<'_EOC_';
    thread_pool fluentai threads=2 max_queue=256;
_EOC_

our $HttpConfig = <<'_EOC_';
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=1024 t=1 p=1;
    fluentai_thread_pool fluentai;
    fluentai_cors_origins http://localhost:3000;
_EOC_

our $Locations = <<'_EOC_';
    location = /auth/register { fluentai_endpoint register; }
    location = /auth/login { fluentai_endpoint login; }
    location = /auth/refresh { fluentai_endpoint refresh; }
    location = /auth/logout { fluentai_endpoint logout; }
    location = /auth/profile { fluentai_endpoint profile; }
    location = /user/profile { fluentai_endpoint user_profile; }
    location = /user/change-password { fluentai_endpoint change_password; }
    location = /health { fluentai_endpoint health; }
_EOC_

my $JSON = JSON::PP->new->utf8->canonical;

# ---- request helpers --------------------------------------------------

# "METHOD URI\n" . the UTF-8 JSON encoding of $data
sub req {
    my ($line, $data) = @_;
    return "$line\n" . $JSON->encode($data);
}

# a JSON object of exactly $n bytes: {"pad":"xxx..."}
sub padded {
    my ($n) = @_;
    return '{"pad":"' . ('x' x ($n - 10)) . '"}';
}

# a raw request with a body and no Content-Type
sub raw {
    my ($m, $uri, $body) = @_;
    return "$m $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
         . "Content-Length: " . length($body) . "\r\n\r\n$body";
}

# a raw application/json request with a chunked body
sub chunked {
    my ($m, $uri, $body, $size) = @_;
    $size ||= 4000;
    my $out = "$m $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            . "Content-Type: application/json\r\n"
            . "Transfer-Encoding: chunked\r\n\r\n";
    for (my $i = 0; $i < length $body; $i += $size) {
        my $c = substr($body, $i, $size);
        $out .= sprintf("%x\r\n%s\r\n", length $c, $c);
    }
    return $out . "0\r\n\r\n";
}

# ---- expected error bodies ---------------------------------------------

my %Category = (401 => 'authentication_error', 422 => 'validation_error',
                429 => 'rate_limited', 500 => 'internal_server_error',
                503 => 'service_unavailable');

sub err {
    my ($status, $code, @details) = @_;
    my $cat = $Category{$status} // 'http_error';
    my $re = '\A'
           . '(?=.*"error":"' . $cat . '")'
           . '(?=.*"code":"' . $code . '")'
           . '(?=.*"message":"[^"]+")'
           . '(?=.*"status_code":' . $status . '[,}])';
    if (@details) {
        my $entry = '\{[^{}]*\}';
        $re .= '(?=.*"details":\[' . join(',', ($entry) x @details) . '\])';
        for my $d (@details) {
            my ($field, $type) = @$d;
            $re .= '(?=.*\{'
                 . '(?=[^{}]*"loc":\["body","' . quotemeta($field) . '"\])'
                 . '(?=[^{}]*"type":"' . quotemeta($type) . '")'
                 . '(?=[^{}]*"msg":"[^"]+")'
                 . '[^{}]*\})';
        }
    } else {
        $re .= '(?!.*"details")';
    }
    $re .= '\{.*\}\z';
    return qr/$re/s;
}

# the user object: exactly the keys id, email, name, avatar, bio (any
# order) with these values (undef: null)
sub user_re {
    my (%u) = @_;
    my $re = '\A';
    for my $k (sort keys %u) {
        my $v = defined $u{$k} ? '"' . quotemeta($u{$k}) . '"' : 'null';
        $re .= '(?=.*"' . $k . '":' . $v . '[,}])';
    }
    my $pair = '"(?:id|email|name|avatar|bio)":(?:"[^"]*"|null)'
             . '|"is_email_verified":(?:true|false)';
    $re .= '\{(?:(?:' . $pair . '),){5}(?:' . $pair . ')\}\z';
    return qr/$re/s;
}

# ---- tokens -------------------------------------------------------------

sub b64url {
    my $s = MIME::Base64::encode_base64($_[0], '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+\z//;
    return $s;
}

sub uuid {
    my @b = map { int rand 256 } 1 .. 16;
    $b[6] = ($b[6] & 0x0f) | 0x40;
    $b[8] = ($b[8] & 0x3f) | 0x80;
    my $h = join '', map { sprintf '%02x', $_ } @b;
    return join '-', substr($h, 0, 8), substr($h, 8, 4), substr($h, 12, 4),
                     substr($h, 16, 4), substr($h, 20);
}

my $Secret = do {
    open my $fh, '<', "$Data/jwt.key" or die "$Data/jwt.key: $!";
    binmode $fh;
    local $/;
    my $k = <$fh>;
    $k =~ s/[\r\n]+\z//;
    $k;
};

sub jwt {
    my (%o) = @_;
    my $key = delete $o{key} // $Secret;
    my $header = delete $o{header} // { alg => 'HS256', typ => 'JWT' };
    my $now = time;
    my %claims = (sub => uuid(), sid => uuid(), type => 'access',
                  iat => $now, exp => $now + 10 * 365 * 86400,
                  jti => sprintf('%08x%08x', rand 2**32, rand 2**32), %o);
    my $input = b64url($JSON->encode($header)) . '.'
              . b64url($JSON->encode(\%claims));
    return "$input." if $header->{alg} eq 'none';
    return "$input." . b64url(Digest::SHA::hmac_sha256($input, $key));
}

our $Ghost = jwt();
our $Expired = jwt(iat => time - 7200, exp => time - 3600);
our $WrongKey = jwt(key => 'w' x 48);
our $AlgNone = jwt(header => { alg => 'none', typ => 'JWT' });
our $TypeRefresh = jwt(type => 'refresh');

# a user and a session of our own, for the GET/HEAD 200 blocks
our ($RealUser, $RealSession, $RealEmail);
{
    my $ci = $ENV{TEST_NGINX_PG_CONNINFO}
        // die "TEST_NGINX_PG_CONNINFO is not set (run via t/run-suites)\n";
    $RealEmail = sprintf 'http-t-%d-%d-%d@example.com', $$, time,
                         int rand 1e6;
    my $sql = "WITH u AS (INSERT INTO users (email, name, hashed_password)"
            . " VALUES ('$RealEmail', 'Http Suite', 'not-a-password-hash')"
            . " RETURNING id),"
            . " s AS (INSERT INTO sessions (user_id, expires_at)"
            . " SELECT id, now() + interval '1 day' FROM u"
            . " RETURNING id, user_id)"
            . " SELECT user_id || ' ' || id FROM s";
    open my $fh, '-|', 'psql', '-X', '-A', '-t', '-q', '-v',
         'ON_ERROR_STOP=1', '-d', $ci, '-c', $sql
        or die "psql: $!\n";
    my $out = do { local $/; <$fh> };
    close $fh or die "psql failed (status $?)\n";
    ($RealUser, $RealSession) = $out =~ /^([0-9a-f-]{36}) ([0-9a-f-]{36})$/m
        or die "psql: unexpected output: $out\n";
}
our $Real = jwt(sub => $RealUser, sid => $RealSession);

# every block runs the same configuration unless it has its own
add_block_preprocessor {
    my $block = shift;
    my %default = (main_config => $::MainConfig,
                   http_config => $::HttpConfig,
                   config      => $::Locations);
    for my $name (sort keys %default) {
        next if $block->can($name) && defined $block->$name;
        $block->set_value($name => $default{$name});
    }
};

no_shuffle();
run_tests();

__DATA__



=== TEST 1: GET /auth/register: 405 method_not_allowed, Allow: POST, OPTIONS
--- request
GET /auth/register
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: POST, OPTIONS
WWW-Authenticate:
Access-Control-Allow-Origin:
--- response_body_like eval
::err(405, 'method_not_allowed')
--- no_error_log
[error]



=== TEST 2: PUT /auth/register: 405 method_not_allowed, Allow: POST, OPTIONS
--- more_headers
Content-Type: application/json
--- request
PUT /auth/register
{"name":"Ann"}
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: POST, OPTIONS
WWW-Authenticate:
Access-Control-Allow-Origin:
--- response_body_like eval
::err(405, 'method_not_allowed')
--- no_error_log
[error]



=== TEST 3: GET /auth/login: 405 method_not_allowed, Allow: POST, OPTIONS
--- request
GET /auth/login
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: POST, OPTIONS
WWW-Authenticate:
Access-Control-Allow-Origin:
--- response_body_like eval
::err(405, 'method_not_allowed')
--- no_error_log
[error]



=== TEST 4: GET /auth/refresh: 405 method_not_allowed, Allow: POST, OPTIONS
--- request
GET /auth/refresh
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: POST, OPTIONS
WWW-Authenticate:
Access-Control-Allow-Origin:
--- response_body_like eval
::err(405, 'method_not_allowed')
--- no_error_log
[error]



=== TEST 5: GET /auth/logout: 405 method_not_allowed, Allow: POST, OPTIONS
--- request
GET /auth/logout
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: POST, OPTIONS
WWW-Authenticate:
Access-Control-Allow-Origin:
--- response_body_like eval
::err(405, 'method_not_allowed')
--- no_error_log
[error]



=== TEST 6: POST /auth/profile: 405 method_not_allowed, Allow: GET, HEAD, OPTIONS
--- more_headers
Content-Type: application/json
--- request
POST /auth/profile
{}
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: GET, HEAD, OPTIONS
WWW-Authenticate:
Access-Control-Allow-Origin:
--- response_body_like eval
::err(405, 'method_not_allowed')
--- no_error_log
[error]



=== TEST 7: PUT /auth/profile: 405 method_not_allowed, Allow: GET, HEAD, OPTIONS
--- more_headers
Content-Type: application/json
--- request
PUT /auth/profile
{}
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: GET, HEAD, OPTIONS
WWW-Authenticate:
Access-Control-Allow-Origin:
--- response_body_like eval
::err(405, 'method_not_allowed')
--- no_error_log
[error]



=== TEST 8: POST /user/profile: 405 method_not_allowed, Allow: GET, HEAD, PUT, OPTIONS
--- more_headers
Content-Type: application/json
--- request
POST /user/profile
{"name":"Ann"}
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: GET, HEAD, PUT, OPTIONS
WWW-Authenticate:
Access-Control-Allow-Origin:
--- response_body_like eval
::err(405, 'method_not_allowed')
--- no_error_log
[error]



=== TEST 9: DELETE /user/profile: 405 method_not_allowed, Allow: GET, HEAD, PUT, OPTIONS
--- request
DELETE /user/profile
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: GET, HEAD, PUT, OPTIONS
WWW-Authenticate:
Access-Control-Allow-Origin:
--- response_body_like eval
::err(405, 'method_not_allowed')
--- no_error_log
[error]



=== TEST 10: PATCH /user/profile: 405 method_not_allowed, Allow: GET, HEAD, PUT, OPTIONS
--- more_headers
Content-Type: application/json
--- request
PATCH /user/profile
{"name":"Ann"}
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: GET, HEAD, PUT, OPTIONS
WWW-Authenticate:
Access-Control-Allow-Origin:
--- response_body_like eval
::err(405, 'method_not_allowed')
--- no_error_log
[error]



=== TEST 11: GET /user/change-password: 405 method_not_allowed, Allow: POST, OPTIONS
--- request
GET /user/change-password
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: POST, OPTIONS
WWW-Authenticate:
Access-Control-Allow-Origin:
--- response_body_like eval
::err(405, 'method_not_allowed')
--- no_error_log
[error]



=== TEST 12: POST /health: 405 method_not_allowed, Allow: GET, HEAD, OPTIONS
--- more_headers
Content-Type: application/json
--- request
POST /health
{}
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: GET, HEAD, OPTIONS
WWW-Authenticate:
Access-Control-Allow-Origin:
--- response_body_like eval
::err(405, 'method_not_allowed')
--- no_error_log
[error]



=== TEST 13: HEAD /auth/login: 405 with Allow and no body
--- request
HEAD /auth/login
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: POST, OPTIONS
--- response_body eval
""
--- no_error_log
[error]



=== TEST 14: HEAD /user/change-password: 405 with Allow and no body
--- request
HEAD /user/change-password
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: POST, OPTIONS
--- response_body eval
""
--- no_error_log
[error]



=== TEST 15: POST /auth/register with Content-Type text/plain: 415 unsupported_media_type
--- more_headers
Content-Type: text/plain
--- request
POST /auth/register
{"refresh_token":"x","name":"Ann"}
--- error_code: 415
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Access-Control-Allow-Origin:
--- response_body_like eval
::err(415, 'unsupported_media_type')
--- no_error_log
[error]



=== TEST 16: POST /auth/login with Content-Type application/x-www-form-urlencoded: 415 unsupported_media_type
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- request
POST /auth/login
email=a%40b.io&password=12345678
--- error_code: 415
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Access-Control-Allow-Origin:
--- response_body_like eval
::err(415, 'unsupported_media_type')
--- no_error_log
[error]



=== TEST 17: POST /auth/refresh with Content-Type text/plain; charset=utf-8: 415 unsupported_media_type
--- more_headers
Content-Type: text/plain; charset=utf-8
--- request
POST /auth/refresh
{"refresh_token":"x","name":"Ann"}
--- error_code: 415
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Access-Control-Allow-Origin:
--- response_body_like eval
::err(415, 'unsupported_media_type')
--- no_error_log
[error]



=== TEST 18: POST /auth/logout with Content-Type multipart/form-data; boundary=xyz: 415 unsupported_media_type
--- more_headers
Content-Type: multipart/form-data; boundary=xyz
--- request
POST /auth/logout
{"refresh_token":"x","name":"Ann"}
--- error_code: 415
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Access-Control-Allow-Origin:
--- response_body_like eval
::err(415, 'unsupported_media_type')
--- no_error_log
[error]



=== TEST 19: POST /user/change-password with Content-Type text/json-ish: 415 unsupported_media_type
--- more_headers
Content-Type: text/json-ish
--- request
POST /user/change-password
{"refresh_token":"x","name":"Ann"}
--- error_code: 415
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Access-Control-Allow-Origin:
--- response_body_like eval
::err(415, 'unsupported_media_type')
--- no_error_log
[error]



=== TEST 20: PUT /user/profile with Content-Type application/jsonp: 415 unsupported_media_type
--- more_headers
Content-Type: application/jsonp
--- request
PUT /user/profile
{"refresh_token":"x","name":"Ann"}
--- error_code: 415
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Access-Control-Allow-Origin:
--- response_body_like eval
::err(415, 'unsupported_media_type')
--- no_error_log
[error]



=== TEST 21: POST /auth/register with a body and no Content-Type: 415
--- raw_request eval
::raw('POST', '/auth/register', '{"name":"Ann","email":"ann@example.com","password":"12345678"}')
--- error_code: 415
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(415, 'unsupported_media_type')
--- no_error_log
[error]



=== TEST 22: PUT /user/profile with a body and no Content-Type: 415 (before auth)
--- raw_request eval
::raw('PUT', '/user/profile', '{"name":"Ann"}')
--- error_code: 415
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(415, 'unsupported_media_type')
--- no_error_log
[error]



=== TEST 23: POST /auth/register: application/json; charset=utf-8 is accepted (422)
--- more_headers
Content-Type: application/json; charset=utf-8
--- request
POST /auth/register
{}
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'value_error.missing'], [email => 'value_error.missing'], [password => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 24: POST /auth/login: application/json; charset=utf-8 is accepted (422)
--- more_headers
Content-Type: application/json; charset=utf-8
--- request
POST /auth/login
{}
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.missing'], [password => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 25: POST /auth/refresh: application/json; charset=utf-8 is accepted (422)
--- more_headers
Content-Type: application/json; charset=utf-8
--- request
POST /auth/refresh
{}
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [refresh_token => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 26: POST /auth/logout: application/json; charset=utf-8 is accepted (200)
--- more_headers
Content-Type: application/json; charset=utf-8
--- request
POST /auth/logout
{}
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body chomp
{"message":"Successfully logged out","success":true}
--- no_error_log
[error]



=== TEST 27: POST /user/change-password: application/json; charset=utf-8 is accepted (401)
--- more_headers
Content-Type: application/json; charset=utf-8
--- request
POST /user/change-password
{"currentPassword":"a","newPassword":"b"}
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(401, 'not_authenticated')
--- no_error_log
[error]



=== TEST 28: PUT /user/profile: application/json; charset=utf-8 is accepted (401)
--- more_headers
Content-Type: application/json; charset=utf-8
--- request
PUT /user/profile
{"bio":"x"}
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(401, 'not_authenticated')
--- no_error_log
[error]



=== TEST 29: POST /auth/login: Content-Type is case-insensitive (Application/JSON)
--- more_headers
Content-Type: Application/JSON
--- request
POST /auth/login
{}
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.missing'], [password => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 30: POST /auth/register with a JSON array ([1]): 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
POST /auth/register
[1]
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 31: POST /auth/register with a JSON string ("x"): 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
POST /auth/register
"x"
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 32: POST /auth/login with a JSON array ([1]): 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
POST /auth/login
[1]
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 33: POST /auth/login with broken JSON ({bad): 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
POST /auth/login
{bad
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 34: POST /auth/refresh with a JSON array ([1]): 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
POST /auth/refresh
[1]
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 35: POST /auth/refresh with JSON null (null): 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
POST /auth/refresh
null
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 36: POST /auth/logout with a JSON array ([1]): 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
POST /auth/logout
[1]
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 37: POST /auth/logout with a JSON number (123): 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
POST /auth/logout
123
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 38: POST /user/change-password with a JSON array ([1]): 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
POST /user/change-password
[1]
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 39: POST /user/change-password with an object followed by garbage ({"a":1} x): 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
POST /user/change-password
{"a":1} x
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 40: PUT /user/profile with a JSON array ([1]): 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
PUT /user/profile
[1]
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 41: PUT /user/profile with a JSON string ("x"): 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
PUT /user/profile
"x"
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 42: POST /auth/register with an empty body: 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
POST /auth/register
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 43: POST /auth/login with an empty body: 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
POST /auth/login
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 44: POST /user/change-password with an empty body: 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
POST /user/change-password
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 45: PUT /user/profile with an empty body: 400 invalid_json
--- more_headers
Content-Type: application/json
--- request
PUT /user/profile
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 46: POST /auth/register with Content-Length: 0: 400 invalid_json
--- more_headers
Content-Type: application/json
Content-Length: 0
--- request
POST /auth/register
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 47: POST /auth/register: a 0xFF byte inside a JSON string: 400 invalid_json
--- more_headers
Content-Type: application/json
--- request eval
"POST /auth/register\n" . qq({"name":"An\xffn","email":"ann\@example.com","password":"12345678"})
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 48: POST /auth/login: an overlong sequence inside a JSON string: 400 invalid_json
--- more_headers
Content-Type: application/json
--- request eval
"POST /auth/login\n" . qq({"email":"ann\@example.com","password":"pass\xc0\xafword"})
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 49: POST /auth/refresh: a truncated sequence inside a JSON string: 400 invalid_json
--- more_headers
Content-Type: application/json
--- request eval
"POST /auth/refresh\n" . qq({"refresh_token":"\xe2\x82"})
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 50: POST /auth/logout: an encoded surrogate inside a JSON string: 400 invalid_json
--- more_headers
Content-Type: application/json
--- request eval
"POST /auth/logout\n" . qq({"refresh_token":"\xed\xa0\x80abc"})
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 51: POST /user/change-password: a code point over U+10FFFF inside a JSON string: 400 invalid_json
--- more_headers
Content-Type: application/json
--- request eval
"POST /user/change-password\n" . qq({"currentPassword":"\xf5\x80\x80\x80","newPassword":"12345678"})
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 52: PUT /user/profile: a lone continuation byte inside a JSON string: 400 invalid_json
--- more_headers
Content-Type: application/json
--- request eval
"PUT /user/profile\n" . qq({"bio":"\x80"})
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 53: POST /auth/login: an escaped lone surrogate (\ud800) inside a JSON string: 400 invalid_json
--- more_headers
Content-Type: application/json
--- request eval
"POST /auth/login\n" . qq({"email":"ann\@example.com","password":"\\ud800abcdefgh"})
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 54: POST /auth/register: a 16385-byte body (Content-Length): 413 payload_too_large
--- more_headers
Content-Type: application/json
--- request eval
"POST /auth/register\n" . ::padded(16385)
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]



=== TEST 55: POST /auth/login: a 16385-byte body (Content-Length): 413 payload_too_large
--- more_headers
Content-Type: application/json
--- request eval
"POST /auth/login\n" . ::padded(16385)
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]



=== TEST 56: POST /auth/refresh: a 16385-byte body (Content-Length): 413 payload_too_large
--- more_headers
Content-Type: application/json
--- request eval
"POST /auth/refresh\n" . ::padded(16385)
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]



=== TEST 57: POST /auth/logout: a 16385-byte body (Content-Length): 413 payload_too_large
--- more_headers
Content-Type: application/json
--- request eval
"POST /auth/logout\n" . ::padded(16385)
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]



=== TEST 58: POST /user/change-password: a 16385-byte body (Content-Length): 413 payload_too_large
--- more_headers
Content-Type: application/json
--- request eval
"POST /user/change-password\n" . ::padded(16385)
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]



=== TEST 59: PUT /user/profile: a 16385-byte body (Content-Length): 413 payload_too_large
--- more_headers
Content-Type: application/json
--- request eval
"PUT /user/profile\n" . ::padded(16385)
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]



=== TEST 60: POST /auth/register: a 1 MiB body (Content-Length): 413 JSON
--- more_headers
Content-Type: application/json
--- request eval
"POST /auth/register\n" . ::padded(1048576)
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]
--- timeout: 10



=== TEST 61: POST /auth/register: 413 is checked before the Content-Type (text/plain, 20000 bytes)
--- more_headers
Content-Type: text/plain
--- request eval
"POST /auth/register\n" . ::padded(20000)
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]



=== TEST 62: POST /auth/login: a body of exactly 16384 bytes is read and parsed (422)
--- more_headers
Content-Type: application/json
--- request eval
"POST /auth/login\n" . ::padded(16384)
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.missing'], [password => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 63: POST /auth/register: a chunked body of 17000 bytes: 413 payload_too_large JSON
--- raw_request eval
::chunked('POST', '/auth/register', ::padded(17000))
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]
--- timeout: 5



=== TEST 64: POST /auth/login: a chunked body of 17000 bytes: 413 payload_too_large JSON
--- raw_request eval
::chunked('POST', '/auth/login', ::padded(17000))
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]
--- timeout: 5



=== TEST 65: POST /auth/refresh: a chunked body of 17000 bytes: 413 payload_too_large JSON
--- raw_request eval
::chunked('POST', '/auth/refresh', ::padded(17000))
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]
--- timeout: 5



=== TEST 66: POST /auth/logout: a chunked body of 17000 bytes: 413 payload_too_large JSON
--- raw_request eval
::chunked('POST', '/auth/logout', ::padded(17000))
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]
--- timeout: 5



=== TEST 67: POST /user/change-password: a chunked body of 17000 bytes: 413 payload_too_large JSON
--- raw_request eval
::chunked('POST', '/user/change-password', ::padded(17000))
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]
--- timeout: 5



=== TEST 68: PUT /user/profile: a chunked body of 17000 bytes: 413 payload_too_large JSON
--- raw_request eval
::chunked('PUT', '/user/profile', ::padded(17000))
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate:
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]
--- timeout: 5



=== TEST 69: POST /auth/login: a chunked body of exactly 16384 bytes is accepted (422)
--- raw_request eval
::chunked('POST', '/auth/login', ::padded(16384))
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.missing'], [password => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 70: POST /auth/register: a small chunked body is parsed (422 with details)
--- raw_request eval
::chunked('POST', '/auth/register', '{"name":"A","email":"ann@example.com","password":"12345678"}', 7)
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'value_error.name'])
--- no_error_log
[error]



=== TEST 71: POST /auth/register 422: all fields missing
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'value_error.missing'], [email => 'value_error.missing'], [password => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 72: POST /auth/register 422: all three invalid at once
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "not-an-email", name => "A", password => "short"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'value_error.name'], [email => 'value_error.email'], [password => 'value_error.password'])
--- no_error_log
[error]



=== TEST 73: POST /auth/register 422: only name invalid (1 code point)
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann\@example.com", name => "A", password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'value_error.name'])
--- no_error_log
[error]



=== TEST 74: POST /auth/register 422: only name missing
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann\@example.com", password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 75: POST /auth/register 422: name is not a string
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann\@example.com", name => 42, password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'type_error.str'])
--- no_error_log
[error]



=== TEST 76: POST /auth/register 422: name is null
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann\@example.com", name => undef, password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'type_error.none.not_allowed'])
--- no_error_log
[error]



=== TEST 77: POST /auth/register 422: name of 1 code point after trimming white space
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann\@example.com", name => "  A \x{9}", password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'value_error.name'])
--- no_error_log
[error]



=== TEST 78: POST /auth/register 422: name with a control character
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann\@example.com", name => "An\x{7}n", password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'value_error.name'])
--- no_error_log
[error]



=== TEST 79: POST /auth/register 422: Cyrillic name of 2 code points (4 bytes) is valid: only the short password fails
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "jan\@example.com", name => "\x{42f}\x{43d}", password => "short"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [password => 'value_error.password'])
--- no_error_log
[error]



=== TEST 80: POST /auth/register 422: name of 100 Cyrillic code points (200 bytes) is valid
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "zh\@example.com", name => ("\x{416}" x 100), password => "short"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [password => 'value_error.password'])
--- no_error_log
[error]



=== TEST 81: POST /auth/register 422: name of 101 Cyrillic code points fails
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "zh\@example.com", name => ("\x{416}" x 101), password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'value_error.name'])
--- no_error_log
[error]



=== TEST 82: POST /auth/register 422: name of 100 code points padded with spaces is valid (trimmed)
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "n\@example.com", name => "  " . ("n" x 100) . "  ", password => "short"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [password => 'value_error.password'])
--- no_error_log
[error]



=== TEST 83: POST /auth/register 422: only email invalid: no @
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann.example.com", name => "Ann", password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.email'])
--- no_error_log
[error]



=== TEST 84: POST /auth/register 422: email with two @
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann\@b\@example.com", name => "Ann", password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.email'])
--- no_error_log
[error]



=== TEST 85: POST /auth/register 422: email with an empty local part
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "\@example.com", name => "Ann", password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.email'])
--- no_error_log
[error]



=== TEST 86: POST /auth/register 422: email domain without a dot
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann\@localhost", name => "Ann", password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.email'])
--- no_error_log
[error]



=== TEST 87: POST /auth/register 422: email domain label starting with a hyphen
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann\@-example.com", name => "Ann", password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.email'])
--- no_error_log
[error]



=== TEST 88: POST /auth/register 422: email domain with an empty label
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann\@example..com", name => "Ann", password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.email'])
--- no_error_log
[error]



=== TEST 89: POST /auth/register 422: email local part of 65 bytes
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => ("a" x 65) . "\@example.com", name => "Ann", password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.email'])
--- no_error_log
[error]



=== TEST 90: POST /auth/register 422: email local part of 64 bytes is valid
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => ("a" x 64) . "\@example.com", name => "Ann", password => "short"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [password => 'value_error.password'])
--- no_error_log
[error]



=== TEST 91: POST /auth/register 422: email of 255 bytes
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "a\@" . ("b" x 63) . "." . ("b" x 63) . "." . ("b" x 63) . "." . ("c" x 61), name => "Ann", password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.email'])
--- no_error_log
[error]



=== TEST 92: POST /auth/register 422: email of 254 bytes is valid
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "a\@" . ("b" x 63) . "." . ("b" x 63) . "." . ("b" x 63) . "." . ("c" x 60), name => "Ann", password => "short"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [password => 'value_error.password'])
--- no_error_log
[error]



=== TEST 93: POST /auth/register 422: email with surrounding spaces and capitals is valid (trimmed, lower-cased)
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "  Ann.Lee\@Example.COM  ", name => "Ann", password => "short"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [password => 'value_error.password'])
--- no_error_log
[error]



=== TEST 94: POST /auth/register 422: email is not a string
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => ["ann\@example.com"], name => "Ann", password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'type_error.str'])
--- no_error_log
[error]



=== TEST 95: POST /auth/register 422: password of 7 Cyrillic code points (14 bytes) fails
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann\@example.com", name => "Ann", password => ("\x{43f}" x 7)})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [password => 'value_error.password'])
--- no_error_log
[error]



=== TEST 96: POST /auth/register 422: password of 8 Cyrillic code points is valid: only the email fails
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "bad-email", name => "Ann", password => ("\x{43f}" x 8)})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.email'])
--- no_error_log
[error]



=== TEST 97: POST /auth/register 422: password of 8 four-byte code points (emoji) is valid
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "bad-email", name => "Ann", password => ("\x{1f511}" x 8)})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.email'])
--- no_error_log
[error]



=== TEST 98: POST /auth/register 422: password of 7 ASCII characters fails
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann\@example.com", name => "Ann", password => "abcdefg"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [password => 'value_error.password'])
--- no_error_log
[error]



=== TEST 99: POST /auth/register 422: password of 128 code points is valid
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "bad-email", name => "Ann", password => ("\x{44f}" x 128)})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.email'])
--- no_error_log
[error]



=== TEST 100: POST /auth/register 422: password of 129 code points fails (never truncated)
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann\@example.com", name => "Ann", password => ("\x{44f}" x 129)})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [password => 'value_error.password'])
--- no_error_log
[error]



=== TEST 101: POST /auth/register 422: password of 8 spaces is not trimmed: valid
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "bad-email", name => "Ann", password => (" " x 8)})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.email'])
--- no_error_log
[error]



=== TEST 102: POST /auth/register 422: password is not a string
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {email => "ann\@example.com", name => "Ann", password => 12345678})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [password => 'type_error.str'])
--- no_error_log
[error]



=== TEST 103: POST /auth/register 422: unknown fields (confirmPassword) are ignored
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/register', {confirmPassword => "x", email => "ann\@example.com", extra => [1, 2], name => "A", password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'value_error.name'])
--- no_error_log
[error]



=== TEST 104: POST /auth/login 422: both fields missing
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/login', {})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.missing'], [password => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 105: POST /auth/login 422: password missing
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/login', {email => "ann\@example.com"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [password => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 106: POST /auth/login 422: email missing
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/login', {password => "correct horse"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 107: POST /auth/login 422: email null, password a number
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/login', {email => undef, password => 5})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [email => 'type_error.none.not_allowed'], [password => 'type_error.str'])
--- no_error_log
[error]



=== TEST 108: POST /auth/login 422: remember is not a boolean
--- more_headers
Content-Type: application/json
--- request eval
::req('POST /auth/login', {email => "ann\@example.com", password => "correct horse", remember => "yes"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [remember => 'type_error.bool'])
--- no_error_log
[error]



=== TEST 109: POST /auth/refresh {}: 422, details loc [body, refresh_token]
--- more_headers
Content-Type: application/json
--- request
POST /auth/refresh
{}
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [refresh_token => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 110: POST /auth/refresh with no body and no query: 422 missing refresh_token
--- request
POST /auth/refresh
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [refresh_token => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 111: POST /auth/refresh with a non-string refresh_token: 422 type_error.str
--- more_headers
Content-Type: application/json
--- request
POST /auth/refresh
{"refresh_token":12345}
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [refresh_token => 'type_error.str'])
--- no_error_log
[error]



=== TEST 112: POST /auth/refresh with a malformed refresh token: 401 invalid_refresh_token
--- more_headers
Content-Type: application/json
--- request
POST /auth/refresh
{"refresh_token":"not-a-real-token"}
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(401, 'invalid_refresh_token')
--- no_error_log
[error]



=== TEST 113: POST /auth/refresh?refresh_token=<malformed> (query, no body): 401 invalid_refresh_token
--- request
POST /auth/refresh?refresh_token=abc%2Fdef
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(401, 'invalid_refresh_token')
--- no_error_log
[error]



=== TEST 114: POST /auth/refresh with an empty refresh_token string: 401 invalid_refresh_token
--- more_headers
Content-Type: application/json
--- request
POST /auth/refresh
{"refresh_token":""}
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(401, 'invalid_refresh_token')
--- no_error_log
[error]



=== TEST 115: POST /auth/refresh?refresh_token=<malformed> with Content-Type: application/json and no body: 401 invalid_refresh_token
--- more_headers
Content-Type: application/json
Content-Length: 0
--- request
POST /auth/refresh?refresh_token=abc
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(401, 'invalid_refresh_token')
--- no_error_log
[error]



=== TEST 116: POST /auth/refresh?refresh_token=<malformed> with an empty form-encoded body (curl -d ''): the query is used, 401 not 415
--- more_headers
Content-Type: application/x-www-form-urlencoded
Content-Length: 0
--- request
POST /auth/refresh?refresh_token=abc
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(401, 'invalid_refresh_token')
--- no_error_log
[error]



=== TEST 117: POST /auth/logout with no body and no token: 200
--- request
POST /auth/logout
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body chomp
{"message":"Successfully logged out","success":true}
--- no_error_log
[error]



=== TEST 118: POST /auth/logout with a garbage bearer token and a malformed refresh token: still 200
--- more_headers
Content-Type: application/json
Authorization: Bearer garbage.token.here
--- request
POST /auth/logout
{"refresh_token":"nope","all":true}
--- error_code: 200
--- response_headers
Content-Type: application/json
WWW-Authenticate:
--- response_body chomp
{"message":"Successfully logged out","success":true}
--- no_error_log
[error]



=== TEST 119: POST /auth/logout with an empty form-encoded body (curl -d ''): 200, not 415
--- more_headers
Content-Type: application/x-www-form-urlencoded
Content-Length: 0
--- request
POST /auth/logout
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body chomp
{"message":"Successfully logged out","success":true}
--- no_error_log
[error]



=== TEST 120: GET /auth/profile without a token: 401 not_authenticated, WWW-Authenticate: Bearer
--- request
GET /auth/profile
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer
--- response_body_like eval
::err(401, 'not_authenticated')
--- no_error_log
[error]



=== TEST 121: GET /user/profile without a token: 401 not_authenticated, WWW-Authenticate: Bearer
--- request
GET /user/profile
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer
--- response_body_like eval
::err(401, 'not_authenticated')
--- no_error_log
[error]



=== TEST 122: PUT /user/profile without a token: 401 not_authenticated, WWW-Authenticate: Bearer
--- more_headers
Content-Type: application/json
--- request
PUT /user/profile
{"name":"Ann"}
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer
--- response_body_like eval
::err(401, 'not_authenticated')
--- no_error_log
[error]



=== TEST 123: POST /user/change-password without a token: 401 not_authenticated, WWW-Authenticate: Bearer
--- more_headers
Content-Type: application/json
--- request
POST /user/change-password
{"currentPassword":"correct horse","newPassword":"battery staple"}
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer
--- response_body_like eval
::err(401, 'not_authenticated')
--- no_error_log
[error]



=== TEST 124: GET /auth/profile with Basic credentials: 401 not_authenticated
--- more_headers
Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l
--- request
GET /auth/profile
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer
--- response_body_like eval
::err(401, 'not_authenticated')
--- no_error_log
[error]



=== TEST 125: GET /user/profile with a garbage token: 401 invalid_token
--- more_headers eval
"Authorization: Bearer garbage"
--- request
GET /user/profile
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer error="invalid_token"
--- response_body_like eval
::err(401, 'invalid_token')
--- no_error_log
[error]



=== TEST 126: GET /user/profile with a token signed with another key: 401 invalid_token
--- more_headers eval
"Authorization: Bearer $::WrongKey"
--- request
GET /user/profile
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer error="invalid_token"
--- response_body_like eval
::err(401, 'invalid_token')
--- no_error_log
[error]



=== TEST 127: GET /user/profile with an alg=none token: 401 invalid_token
--- more_headers eval
"Authorization: Bearer $::AlgNone"
--- request
GET /user/profile
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer error="invalid_token"
--- response_body_like eval
::err(401, 'invalid_token')
--- no_error_log
[error]



=== TEST 128: GET /user/profile with a token of type refresh: 401 invalid_token
--- more_headers eval
"Authorization: Bearer $::TypeRefresh"
--- request
GET /user/profile
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer error="invalid_token"
--- response_body_like eval
::err(401, 'invalid_token')
--- no_error_log
[error]



=== TEST 129: GET /user/profile with an expired token: 401 token_expired
--- more_headers eval
"Authorization: Bearer $::Expired"
--- request
GET /user/profile
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer error="invalid_token"
--- response_body_like eval
::err(401, 'token_expired')
--- no_error_log
[error]



=== TEST 130: GET /auth/profile with a valid token for an unknown session: 401 invalid_token
--- more_headers eval
"Authorization: Bearer $::Ghost"
--- request
GET /auth/profile
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer error="invalid_token"
--- response_body_like eval
::err(401, 'invalid_token')
--- no_error_log
[error]
--- timeout: 10



=== TEST 131: PUT /user/profile 422 (validation before the session lookup): name null
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $::Ghost"
--- request eval
::req('PUT /user/profile', {name => undef})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'type_error.none.not_allowed'])
--- no_error_log
[error]



=== TEST 132: PUT /user/profile 422 (validation before the session lookup): name of 1 code point
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $::Ghost"
--- request eval
::req('PUT /user/profile', {name => "\x{42f}"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'value_error.name'])
--- no_error_log
[error]



=== TEST 133: PUT /user/profile 422 (validation before the session lookup): name of 101 code points
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $::Ghost"
--- request eval
::req('PUT /user/profile', {name => ("\x{42f}" x 101)})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'value_error.name'])
--- no_error_log
[error]



=== TEST 134: PUT /user/profile 422 (validation before the session lookup): avatar with an ftp URL
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $::Ghost"
--- request eval
::req('PUT /user/profile', {avatar => "ftp://example.com/a.png"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [avatar => 'value_error.url'])
--- no_error_log
[error]



=== TEST 135: PUT /user/profile 422 (validation before the session lookup): avatar of 501 bytes
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $::Ghost"
--- request eval
::req('PUT /user/profile', {avatar => "https://example.com/" . ("a" x 481)})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [avatar => 'value_error.url'])
--- no_error_log
[error]



=== TEST 136: PUT /user/profile 422 (validation before the session lookup): bio of 501 code points
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $::Ghost"
--- request eval
::req('PUT /user/profile', {bio => ("\x{431}" x 501)})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [bio => 'value_error.bio'])
--- no_error_log
[error]



=== TEST 137: PUT /user/profile 422 (validation before the session lookup): bio not a string
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $::Ghost"
--- request eval
::req('PUT /user/profile', {bio => {}})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [bio => 'type_error.str'])
--- no_error_log
[error]



=== TEST 138: PUT /user/profile 422 (validation before the session lookup): all three invalid at once
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $::Ghost"
--- request eval
::req('PUT /user/profile', {avatar => "javascript:alert(1)", bio => ("\x{431}" x 501), name => "A"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [name => 'value_error.name'], [avatar => 'value_error.url'], [bio => 'value_error.bio'])
--- no_error_log
[error]



=== TEST 139: PUT /user/profile valid (Cyrillic 2 code points, bio 500, avatar null) with an unknown session: 401 invalid_token
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $::Ghost"
--- request eval
::req('PUT /user/profile', {name => "\x{42f}\x{43d}", bio => "\x{431}" x 500, avatar => undef})
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer error="invalid_token"
--- response_body_like eval
::err(401, 'invalid_token')
--- no_error_log
[error]
--- timeout: 10



=== TEST 140: POST /user/change-password 422 (before the session lookup): both fields missing
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $::Ghost"
--- request eval
::req('POST /user/change-password', {})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [currentPassword => 'value_error.missing'], [newPassword => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 141: POST /user/change-password 422 (before the session lookup): newPassword of 7 Cyrillic code points
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $::Ghost"
--- request eval
::req('POST /user/change-password', {currentPassword => "correct horse", newPassword => ("\x{43f}" x 7)})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [newPassword => 'value_error.password'])
--- no_error_log
[error]



=== TEST 142: POST /user/change-password 422 (before the session lookup): snake_case names, new_password too short (loc names newPassword)
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $::Ghost"
--- request eval
::req('POST /user/change-password', {current_password => "correct horse", new_password => "short"})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [newPassword => 'value_error.password'])
--- no_error_log
[error]



=== TEST 143: POST /user/change-password 422 (before the session lookup): currentPassword not a string, newPassword missing
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $::Ghost"
--- request eval
::req('POST /user/change-password', {currentPassword => 1})
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::err(422, 'validation_failed', [currentPassword => 'type_error.str'], [newPassword => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 144: POST /user/change-password valid (8 Cyrillic code points) with an unknown session: 401 invalid_token
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $::Ghost"
--- request eval
::req('POST /user/change-password', {currentPassword => 'correct horse', newPassword => "\x{43f}" x 8})
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer error="invalid_token"
--- response_body_like eval
::err(401, 'invalid_token')
--- no_error_log
[error]
--- timeout: 10



=== TEST 145: GET /health: 200 JSON
--- request
GET /health
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body chomp
{"status":"healthy","database":"connected"}
--- no_error_log
[error]
--- timeout: 10



=== TEST 146: HEAD /health: 200, JSON headers, no body
--- request
HEAD /health
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body eval
""
--- no_error_log
[error]
--- timeout: 10



=== TEST 147: GET /auth/profile with a valid session: 200, the user object
--- more_headers eval
"Authorization: Bearer $::Real"
--- request
GET /auth/profile
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
::user_re(id => $::RealUser, email => $::RealEmail, name => 'Http Suite', avatar => undef, bio => undef)
--- no_error_log
[error]
--- timeout: 10



=== TEST 148: HEAD /auth/profile with a valid session: 200, no body
--- more_headers eval
"Authorization: Bearer $::Real"
--- request
HEAD /auth/profile
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body eval
""
--- no_error_log
[error]
--- timeout: 10



=== TEST 149: HEAD /auth/profile without a token: 401, WWW-Authenticate, no body
--- request
HEAD /auth/profile
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer
--- response_body eval
""
--- no_error_log
[error]



=== TEST 150: HEAD /user/profile with a valid session: 200, no body
--- more_headers eval
"Authorization: Bearer $::Real"
--- request
HEAD /user/profile
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body eval
""
--- no_error_log
[error]
--- timeout: 10



=== TEST 151: OPTIONS /auth/login preflight from an allowed origin: 204 with the CORS headers
--- more_headers
Origin: http://localhost:3000
Access-Control-Request-Method: POST
Access-Control-Request-Headers: authorization, content-type
--- request
OPTIONS /auth/login
--- error_code: 204
--- response_headers_like
Access-Control-Allow-Origin: http://localhost:3000
Access-Control-Allow-Credentials: true
Access-Control-Allow-Methods: POST\,\ OPTIONS
Access-Control-Allow-Headers: Authorization, Content-Type
Access-Control-Max-Age: [1-9][0-9]*
Vary: Origin
--- response_body eval
""
--- no_error_log
[error]



=== TEST 152: OPTIONS /auth/profile preflight from an allowed origin: 204 with the CORS headers
--- more_headers
Origin: http://localhost:3000
Access-Control-Request-Method: GET
Access-Control-Request-Headers: authorization, content-type
--- request
OPTIONS /auth/profile
--- error_code: 204
--- response_headers_like
Access-Control-Allow-Origin: http://localhost:3000
Access-Control-Allow-Credentials: true
Access-Control-Allow-Methods: GET\,\ HEAD\,\ OPTIONS
Access-Control-Allow-Headers: Authorization, Content-Type
Access-Control-Max-Age: [1-9][0-9]*
Vary: Origin
--- response_body eval
""
--- no_error_log
[error]



=== TEST 153: OPTIONS /user/profile preflight from an allowed origin: 204 with the CORS headers
--- more_headers
Origin: http://localhost:3000
Access-Control-Request-Method: PUT
Access-Control-Request-Headers: authorization, content-type
--- request
OPTIONS /user/profile
--- error_code: 204
--- response_headers_like
Access-Control-Allow-Origin: http://localhost:3000
Access-Control-Allow-Credentials: true
Access-Control-Allow-Methods: GET\,\ HEAD\,\ PUT\,\ OPTIONS
Access-Control-Allow-Headers: Authorization, Content-Type
Access-Control-Max-Age: [1-9][0-9]*
Vary: Origin
--- response_body eval
""
--- no_error_log
[error]



=== TEST 154: OPTIONS /health preflight from an allowed origin: 204 with the CORS headers
--- more_headers
Origin: http://localhost:3000
Access-Control-Request-Method: GET
Access-Control-Request-Headers: authorization, content-type
--- request
OPTIONS /health
--- error_code: 204
--- response_headers_like
Access-Control-Allow-Origin: http://localhost:3000
Access-Control-Allow-Credentials: true
Access-Control-Allow-Methods: GET\,\ HEAD\,\ OPTIONS
Access-Control-Allow-Headers: Authorization, Content-Type
Access-Control-Max-Age: [1-9][0-9]*
Vary: Origin
--- response_body eval
""
--- no_error_log
[error]



=== TEST 155: OPTIONS /auth/register preflight from another origin: no Access-Control-* headers
--- more_headers
Origin: http://evil.example.com
Access-Control-Request-Method: POST
--- request
OPTIONS /auth/register
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin:
Access-Control-Allow-Credentials:
Access-Control-Allow-Methods:
Access-Control-Allow-Headers:
Access-Control-Max-Age:
--- response_body eval
""
--- no_error_log
[error]



=== TEST 156: OPTIONS /auth/login from http://localhost:3000.evil.example.com (not listed): no Access-Control-* headers
--- more_headers
Origin: http://localhost:3000.evil.example.com
Access-Control-Request-Method: POST
--- request
OPTIONS /auth/login
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin:
Access-Control-Allow-Credentials:
Access-Control-Allow-Methods:
Access-Control-Allow-Headers:
Access-Control-Max-Age:
--- no_error_log
[error]



=== TEST 157: OPTIONS /auth/login from http://localhost:30001 (not listed): no Access-Control-* headers
--- more_headers
Origin: http://localhost:30001
Access-Control-Request-Method: POST
--- request
OPTIONS /auth/login
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin:
Access-Control-Allow-Credentials:
Access-Control-Allow-Methods:
Access-Control-Allow-Headers:
Access-Control-Max-Age:
--- no_error_log
[error]



=== TEST 158: OPTIONS /auth/login from https://localhost:3000 (not listed): no Access-Control-* headers
--- more_headers
Origin: https://localhost:3000
Access-Control-Request-Method: POST
--- request
OPTIONS /auth/login
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin:
Access-Control-Allow-Credentials:
Access-Control-Allow-Methods:
Access-Control-Allow-Headers:
Access-Control-Max-Age:
--- no_error_log
[error]



=== TEST 159: OPTIONS /auth/login from http://localhost:3000/ (not listed): no Access-Control-* headers
--- more_headers
Origin: http://localhost:3000/
Access-Control-Request-Method: POST
--- request
OPTIONS /auth/login
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin:
Access-Control-Allow-Credentials:
Access-Control-Allow-Methods:
Access-Control-Allow-Headers:
Access-Control-Max-Age:
--- no_error_log
[error]



=== TEST 160: OPTIONS /auth/login from null (not listed): no Access-Control-* headers
--- more_headers
Origin: null
Access-Control-Request-Method: POST
--- request
OPTIONS /auth/login
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin:
Access-Control-Allow-Credentials:
Access-Control-Allow-Methods:
Access-Control-Allow-Headers:
Access-Control-Max-Age:
--- no_error_log
[error]



=== TEST 161: OPTIONS /auth/login without Origin: no Access-Control-* headers
--- request
OPTIONS /auth/login
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin:
Access-Control-Allow-Credentials:
Access-Control-Allow-Methods:
--- no_error_log
[error]



=== TEST 162: 405 to an allowed origin carries the CORS headers
--- more_headers
Origin: http://localhost:3000
--- request
GET /auth/register
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: POST, OPTIONS
Access-Control-Allow-Origin: http://localhost:3000
Access-Control-Allow-Credentials: true
Vary: Origin
--- response_body_like eval
::err(405, 'method_not_allowed')
--- no_error_log
[error]



=== TEST 163: 405 to another origin carries no CORS headers
--- more_headers
Origin: http://evil.example.com
--- request
GET /auth/register
--- error_code: 405
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Allow: POST, OPTIONS
Access-Control-Allow-Origin:
Access-Control-Allow-Credentials:
--- response_body_like eval
::err(405, 'method_not_allowed')
--- no_error_log
[error]



=== TEST 164: 401 to an allowed origin carries the CORS headers
--- more_headers
Origin: http://localhost:3000
--- request
GET /user/profile
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
WWW-Authenticate: Bearer
Access-Control-Allow-Origin: http://localhost:3000
Access-Control-Allow-Credentials: true
Vary: Origin
--- response_body_like eval
::err(401, 'not_authenticated')
--- no_error_log
[error]



=== TEST 165: 415 to an allowed origin carries the CORS headers
--- more_headers
Origin: http://localhost:3000
Content-Type: text/plain
--- request
POST /auth/login
{}
--- error_code: 415
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Access-Control-Allow-Origin: http://localhost:3000
Access-Control-Allow-Credentials: true
--- response_body_like eval
::err(415, 'unsupported_media_type')
--- no_error_log
[error]



=== TEST 166: 413 to an allowed origin carries the CORS headers
--- more_headers
Origin: http://localhost:3000
Content-Type: application/json
--- request eval
"POST /auth/register\n" . ::padded(16385)
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Access-Control-Allow-Origin: http://localhost:3000
Access-Control-Allow-Credentials: true
--- response_body_like eval
::err(413, 'payload_too_large')
--- no_error_log
[error]



=== TEST 167: 400 to an allowed origin carries the CORS headers
--- more_headers
Origin: http://localhost:3000
Content-Type: application/json
--- request
POST /auth/login
[1]
--- error_code: 400
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Access-Control-Allow-Origin: http://localhost:3000
Access-Control-Allow-Credentials: true
--- response_body_like eval
::err(400, 'invalid_json')
--- no_error_log
[error]



=== TEST 168: 422 to an allowed origin carries the CORS headers
--- more_headers
Origin: http://localhost:3000
Content-Type: application/json
--- request
POST /auth/refresh
{}
--- error_code: 422
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Access-Control-Allow-Origin: http://localhost:3000
Access-Control-Allow-Credentials: true
--- response_body_like eval
::err(422, 'validation_failed', [refresh_token => 'value_error.missing'])
--- no_error_log
[error]



=== TEST 169: 200 (logout) to an allowed origin carries the CORS headers
--- more_headers
Origin: http://localhost:3000
--- request
POST /auth/logout
--- error_code: 200
--- response_headers
Access-Control-Allow-Origin: http://localhost:3000
Access-Control-Allow-Credentials: true
Vary: Origin
--- response_body chomp
{"message":"Successfully logged out","success":true}
--- no_error_log
[error]



=== TEST 170: 200 (health) to another origin carries no CORS headers
--- more_headers
Origin: http://localhost:5173
--- request
GET /health
--- error_code: 200
--- response_headers
Access-Control-Allow-Origin:
Access-Control-Allow-Credentials:
--- response_body chomp
{"status":"healthy","database":"connected"}
--- no_error_log
[error]
--- timeout: 10
