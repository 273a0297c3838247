# JWT edge cases through the server: every malformed, mis-signed or
# mis-typed access token is a 401 invalid_token (never a crash, never an
# [alert]/[crit], never a server [error]), and the token is not written to
# the module's own log lines.
#
# The tokens are crafted here at load time with the test secret
# ($TEST_NGINX_DATA/jwt.key) for a user and session inserted into the test
# database; TEST 1 shows that a correctly crafted token for them is
# accepted, so every other block fails for the one thing it changes.
#
# Run: t/run-suites t/tokens.t   (needs TEST_NGINX_PG_CONNINFO, TEST_NGINX_DATA)

use Test::Nginx::Socket;
use Digest::SHA qw(hmac_sha256 hmac_sha512);
use JSON::PP ();
use MIME::Base64 qw(encode_base64url);

our (%T, $MainConfig, $HttpConfig, $Config);

my $conninfo = $ENV{TEST_NGINX_PG_CONNINFO}
    or die "TEST_NGINX_PG_CONNINFO is not set (run via t/run-suites)\n";
my $data = $ENV{TEST_NGINX_DATA} || 't/data';

my $secret = do {
    open my $fh, '<:raw', "$data/jwt.key" or die "$data/jwt.key: $!\n";
    local $/;
    my $k = <$fh>;
    $k =~ s/[\r\n]+\z//;
    $k;
};

# a user with an active session, straight into the database
my $email = sprintf 'tokens-%d-%d@example.com', $$, time;
my $row = `psql -X -A -t -q -v ON_ERROR_STOP=1 -d '$conninfo' -c "WITH u AS (INSERT INTO users (email, name, hashed_password) VALUES ('$email', 'Token Tester', 'x') RETURNING id), s AS (INSERT INTO sessions (user_id, expires_at) SELECT id, now() + interval '1 day' FROM u RETURNING id, user_id) SELECT user_id, id FROM s"`;
my ($uid, $sid) = $row =~ /^([0-9a-f-]{36})\|([0-9a-f-]{36})$/m
    or die "cannot create the test user: $row\n";

my $json = JSON::PP->new->canonical;

sub b64 { encode_base64url($_[0]) }

# header and payload: hashrefs (JSON) or raw strings; alg HS256|HS512|none
sub jwt {
    my (%a) = @_;
    my $h = ref $a{header} ? $json->encode($a{header}) : $a{header};
    my $p = ref $a{payload} ? $json->encode($a{payload}) : $a{payload};
    my $in = b64($h) . '.' . b64($p);
    my $alg = $a{alg} // 'HS256';
    my $sig = $alg eq 'HS512' ? b64(hmac_sha512($in, $secret))
            : $alg eq 'none'  ? ''
            : b64(hmac_sha256($in, $secret));
    return "$in.$sig";
}

my $now = time;
my %claims = (sub => $uid, sid => $sid, type => 'access', iat => $now,
              exp => $now + 3600, jti => 'tokens-t');
my $hdr = { alg => 'HS256', typ => 'JWT' };
my $good = jwt(header => $hdr, payload => \%claims);
my ($gh, $gp, $gs) = split /\./, $good;

$T{good} = $good;

# ~3000 characters, correctly signed (a long jti)
for my $n (1900 .. 2300) {
    my $t = jwt(header => $hdr, payload => { %claims, jti => 'j' x $n });
    if (length $t >= 3000) { $T{oversized} = $t; last }
}

$T{garbage_short} = 'abcde.fghij.klmno';
$T{garbage_shape} = join '.', b64('garbage!' x 3), b64("\xff\xfe\x00\x01" x 5),
                    b64('s' x 32);
# correctly signed over parts that are not valid base64url
sub signed_raw { my $in = join '.', @_; return "$in." . b64(hmac_sha256($in, $secret)) }

$T{garbage_b64_len} = signed_raw('a', $gp);          # 1 char: no base64
$T{garbage_bits} = do {                              # non-zero trailing bits
    my $alpha = join '', 'A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_';
    my $h = b64('{"alg":"HS256","typ":"JWT" }');     # 28 bytes: 4 spare bits
    my $i = index $alpha, substr($h, -1);
    substr($h, -1) = substr($alpha, $i + 1, 1);
    signed_raw($h, $gp);
};
$T{garbage_header_bytes} = jwt(header => "\xff\xfe\x80garbage", payload => \%claims);
$T{two_parts} = "$gh.$gp";
$T{two_parts_sig} = "$gh.$gs";
$T{four_parts} = "$gh.$gp.$gs.$gs";
$T{empty_signature} = "$gh.$gp.";
$T{non_json_payload} = jwt(header => $hdr, payload => 'this is not JSON');
$T{json_array_payload} = jwt(header => $hdr, payload => '[1,2,3]');
$T{truncated_json_payload} = jwt(header => $hdr,
                                 payload => substr($json->encode(\%claims), 0, 40));
$T{type_refresh} = jwt(header => $hdr, payload => { %claims, type => 'refresh' });
$T{type_missing} = do { my %c = %claims; delete $c{type};
                        jwt(header => $hdr, payload => \%c) };
$T{sub_not_uuid} = jwt(header => $hdr, payload => { %claims, sub => 'not-a-uuid' });
$T{sub_number} = jwt(header => $hdr, payload => { %claims, sub => 12345 });
$T{sid_not_uuid} = jwt(header => $hdr,
                       payload => { %claims, sid => "$sid'; DROP TABLE sessions; --" });
$T{exp_string} = jwt(header => $hdr, payload => { %claims, exp => "" . ($now + 3600) });
$T{exp_missing} = do { my %c = %claims; delete $c{exp};
                       jwt(header => $hdr, payload => \%c) };
$T{alg_none} = jwt(alg => 'none', header => { alg => 'none', typ => 'JWT' },
                   payload => \%claims);
$T{alg_hs512} = jwt(alg => 'HS512', header => { alg => 'HS512', typ => 'JWT' },
                    payload => \%claims);
$T{alg_missing} = jwt(header => { typ => 'JWT' }, payload => \%claims);
$T{header_crit} = jwt(header => { %$hdr, crit => ['exp'] }, payload => \%claims);
$T{duplicate_sub} = jwt(header => $hdr,
    payload => '{"sub":"' . $uid . '","sub":"00000000-0000-4000-8000-000000000000",'
             . '"sid":"' . $sid . '","type":"access","iat":' . $now
             . ',"exp":' . ($now + 3600) . ',"jti":"d"}');
$T{std_base64} = do {                                # '+', '/' and '=' padding
    my $t = "$gh.$gp.$gs";
    $t =~ tr/-_/+\//;
    $t .= '=';
    $t;
};

$MainConfig = "    thread_pool fluentai threads=1 max_queue=64;\n";
$HttpConfig = <<"_EOC_";
    fluentai_database "$conninfo";
    fluentai_jwt_secret_file $data/jwt.key;
    fluentai_password_hash m=1024 t=1 p=1;
    fluentai_thread_pool fluentai;
_EOC_
$Config = <<'_EOC_';
    location = /auth/profile { fluentai_endpoint profile; }
    location = /user/profile { fluentai_endpoint user_profile; }
_EOC_

# no [alert]/[crit]/[emerg]/[error], and the token not in our own lines
sub log_clean {
    my ($name) = @_;
    my $t = $T{$name} // die "no token $name\n";
    return ['[alert]', '[crit]', '[emerg]', '[error]',
            qr/fluentai:.*\Q$t\E/];
}

sub auth { "Authorization: Bearer " . ($T{ $_[0] } // die "no token $_[0]\n") }

repeat_each(1);

plan tests => repeat_each() * 7 * blocks();

run_tests();

__DATA__

=== TEST 1: control: a token crafted with the test secret is accepted
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('good')
--- error_code: 200
--- response_body_like: "name":"Token Tester"
--- no_error_log eval: main::log_clean('good')



=== TEST 2: oversized token (3000 characters, correctly signed)
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('oversized')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('oversized')



=== TEST 3: garbage: three short parts
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /user/profile
--- more_headers eval: main::auth('garbage_short')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('garbage_short')



=== TEST 4: garbage: base64url of binary junk in the shape of a JWT
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('garbage_shape')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('garbage_shape')



=== TEST 5: garbage base64: a one-character header part
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('garbage_b64_len')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('garbage_b64_len')



=== TEST 6: garbage base64: non-canonical trailing bits in the header
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('garbage_bits')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('garbage_bits')



=== TEST 7: signed, but the header is binary junk
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('garbage_header_bytes')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('garbage_header_bytes')



=== TEST 8: two-part token (header.payload)
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('two_parts')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('two_parts')



=== TEST 9: two-part token (header.signature)
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /user/profile
--- more_headers eval: main::auth('two_parts_sig')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('two_parts_sig')



=== TEST 10: four-part token
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('four_parts')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('four_parts')



=== TEST 11: empty signature
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('empty_signature')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('empty_signature')



=== TEST 12: correctly signed, payload not JSON
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('non_json_payload')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('non_json_payload')



=== TEST 13: correctly signed, payload a JSON array
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('json_array_payload')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('json_array_payload')



=== TEST 14: correctly signed, payload truncated JSON
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('truncated_json_payload')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('truncated_json_payload')



=== TEST 15: correctly signed, type "refresh"
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('type_refresh')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('type_refresh')



=== TEST 16: correctly signed, no type claim
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /user/profile
--- more_headers eval: main::auth('type_missing')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('type_missing')



=== TEST 17: correctly signed, sub not a UUID
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('sub_not_uuid')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('sub_not_uuid')



=== TEST 18: correctly signed, sub a number
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('sub_number')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('sub_number')



=== TEST 19: correctly signed, sid not a UUID (SQL in it)
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('sid_not_uuid')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('sid_not_uuid')



=== TEST 20: correctly signed, exp a string
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('exp_string')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('exp_string')



=== TEST 21: correctly signed, no exp
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('exp_missing')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('exp_missing')



=== TEST 22: alg "none", unsigned
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('alg_none')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('alg_none')



=== TEST 23: alg HS512, signed with the right key
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('alg_hs512')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('alg_hs512')



=== TEST 24: no alg in the header (HS256 signature)
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('alg_missing')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('alg_missing')



=== TEST 25: a "crit" header parameter is not understood
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('header_crit')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('header_crit')



=== TEST 26: duplicate "sub" claims
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('duplicate_sub')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('duplicate_sub')



=== TEST 27: standard base64 ('+', '/', '=') instead of base64url
RFC 6750 b64token allows these characters: a bearer token is present, but
malformed, so the contract's answer is invalid_token.
--- main_config eval: $::MainConfig
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /auth/profile
--- more_headers eval: main::auth('std_base64')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- no_error_log eval: main::log_clean('std_base64')
