package FluentAI::Test;

# Helpers for multi-step scenario tests (state such as tokens between
# requests), which the Test::Nginx block format cannot express.
#
#   use Test::More;
#   use FluentAI::Test;
#
#   start_nginx(main_config => fluentai_main_config(),
#               http_config => fluentai_http_config(),
#               config      => fluentai_locations());
#   my $r = api(POST => '/auth/register',
#               json => { name => 'Ann', email => unique_email('ann'),
#                         password => 'correct horse' });
#   is $r->{status}, 200;
#   my $t = $r->{json}{access_token};
#   $r = api(GET => '/auth/profile',
#            headers => { Authorization => "Bearer $t" });
#   is psql('SELECT count(*) FROM users WHERE email = $1', $email), 1;
#   stop_nginx();
#   done_testing;
#
# nginx handling (config generation, TEST_NGINX_USE_VALGRIND,
# TEST_NGINX_USE_HUP, servroot, port) is shared with Test::Nginx::Socket
# through t/lib/Test/Nginx/Util.pm.

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny;
use IPC::Run ();
use Digest::SHA ();
use JSON::PP ();
use MIME::Base64 ();
use Test::More ();
use Test::Nginx::Util ();
use Time::HiRes ();

die "FluentAI::Test needs the project's t/lib/Test/Nginx/Util.pm, got "
    . "$INC{'Test/Nginx/Util.pm'}\n"
    unless $Test::Nginx::Util::FLUENTAI_RUNNER;

our @EXPORT = qw(
    start_nginx stop_nginx reload_nginx api psql error_log error_log_mark
    error_log_since unique_email json_encode json_decode server_port
    data_dir base_url fluentai_main_config fluentai_http_config
    fluentai_locations
);

# on request: use FluentAI::Test qw(:DEFAULT bearer claims jwt new_user)
our @EXPORT_OK = qw(bearer claims jwt jwt_key new_user wait_until);

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my $LogMark = 0;       # error log offset at the last start/reload

sub json_encode { $JSON->encode($_[0]) }
sub json_decode { my $d = eval { $JSON->decode($_[0]) }; $d }

sub server_port { Test::Nginx::Util::server_port() }
sub base_url { 'http://127.0.0.1:' . server_port() }
sub data_dir {
    return $ENV{TEST_NGINX_DATA} if $ENV{TEST_NGINX_DATA};
    require Cwd;
    return Cwd::getcwd() . '/t/data';
}

# Standard configuration of the module for scenario tests: the contract's
# directives with test-sized argon2 parameters.  %o overrides/extends.
sub fluentai_main_config {
    my (%o) = @_;
    my $threads = $o{threads} // 2;
    return "thread_pool fluentai threads=$threads max_queue="
           . ($o{max_queue} // 1024) . ";\n" . ($o{extra} // '');
}

sub fluentai_http_config {
    my (%o) = @_;
    my $conninfo = $o{database} // $ENV{TEST_NGINX_PG_CONNINFO}
        // die "TEST_NGINX_PG_CONNINFO is not set (run via t/run-suites)\n";
    my $key = $o{jwt_secret_file} // data_dir() . '/jwt.key';
    my %d = (
        fluentai_database          => qq{"$conninfo"},
        fluentai_jwt_secret_file   => $key,
        fluentai_access_token_ttl  => $o{access_token_ttl} // '30m',
        fluentai_refresh_token_ttl => $o{refresh_token_ttl} // '7d',
        fluentai_password_hash     => $o{password_hash} // 'm=1024 t=1 p=1',
        fluentai_thread_pool       => 'fluentai',
        # short in tests (the default 1s would add a second to every
        # failed login); t/timing-hashes.t sets its own
        fluentai_login_failure_delay => $o{login_failure_delay} // '50ms',
        # the statements always count; suites that fail one email's login
        # more than 100 times (t/timing.t) must not hit the default limit
        fluentai_login_throttle    => $o{login_throttle} // '1000 1h',
    );
    $d{fluentai_cors_origins} = $o{cors_origins} if $o{cors_origins};
    my $out = '';
    for my $k (sort keys %d) {
        $out .= "    $k $d{$k};\n";
    }
    return $out . ($o{extra} // '');
}

my @Endpoints = (
    ['/auth/register',        'register'],
    ['/auth/login',           'login'],
    ['/auth/refresh',         'refresh'],
    ['/auth/logout',          'logout'],
    ['/auth/profile',         'profile'],
    ['/user/profile',         'user_profile'],
    ['/user/change-password', 'change_password'],
    ['/health',               'health'],
    ['/metrics',              'metrics'],
    ['/auth/forgot-password',     'forgot_password'],
    ['/auth/reset-password',      'reset_password'],
    ['/auth/verify-email',        'verify_email'],
    ['/auth/resend-verification', 'resend_verification'],
    ['/auth/sessions',        'sessions'],
    ['/auth/sessions/',       'session'],     # a prefix: /auth/sessions/{id}
);

sub fluentai_locations {
    my (%o) = @_;
    return join '', map {
        my $m = $_->[0] =~ m{/\z} ? '^~' : '=';
        "    location $m $_->[0] { fluentai_endpoint $_->[1]; }\n"
    } @Endpoints;
}

# start_nginx(main_config => ..., http_config => ..., config => ...)
# Under TEST_NGINX_USE_HUP a running server is reloaded instead.
# Returns true on success; a failure is a failed test (and returns false).
sub start_nginx {
    my (%a) = @_;
    my $pos = Test::Nginx::Util::error_log_size();
    my $r = Test::Nginx::Util::start_server(
        name        => $0,
        main_config => $a{main_config},
        http_config => $a{http_config},
        config      => $a{config},
    );
    $LogMark = $r->{reloaded} ? $pos : 0;
    unless ($r->{ok}) {
        Test::More::fail("nginx started");
        Test::More::diag($r->{error} // 'unknown error');
        return 0;
    }
    return 1;
}

# reload_nginx(%config): like start_nginx, but always through SIGHUP when a
# server runs (without valgrind); checks nothing else.
sub reload_nginx {
    my (%a) = @_;
    local $Test::Nginx::Util::UseHup = 1
        unless $Test::Nginx::Util::UseValgrind;
    return start_nginx(%a);
}

# stop_nginx(): QUIT and wait; one test that fails on [alert]/[crit]/[emerg]
# in the log since the last start (allow => qr/.../ to accept some lines),
# or on a valgrind report.
sub stop_nginx {
    my (%a) = @_;
    my @problems = Test::Nginx::Util::stop_server();
    my @bad = Test::Nginx::Util::fatal_log_lines(
        Test::Nginx::Util::read_error_log($LogMark));
    @bad = grep { $_ !~ $a{allow} } @bad if $a{allow};
    my $ok = Test::More::ok(!@problems && !@bad,
        "nginx stopped cleanly: no [alert]/[crit]/[emerg]"
        . ($Test::Nginx::Util::UseValgrind ? ', no valgrind errors' : ''));
    Test::More::diag($_) for @problems, @bad;
    return $ok;
}

sub error_log { Test::Nginx::Util::read_error_log(0) }
sub error_log_mark { Test::Nginx::Util::error_log_size() }
sub error_log_since { Test::Nginx::Util::read_error_log($_[0] // 0) }

my %Http;
sub _http {
    my ($timeout) = @_;
    $timeout //= 10 * Test::Nginx::Util::timeout_factor();
    $Http{$timeout} ||= HTTP::Tiny->new(
        keep_alive => 0,
        timeout    => $timeout,
        agent      => 'fluentai-test/1',
        max_redirect => 0,
    );
    return $Http{$timeout};
}

# api($method, $path, headers => {...}, json => $data | body => $raw,
#     timeout => $secs (default 10, times the valgrind factor))
# -> { status, headers (lower-case keys; repeated ones joined by ", "),
#      body, json (decoded or undef) }
sub api {
    my ($method, $path, %a) = @_;
    my %h = %{ $a{headers} // {} };
    my $opt = { headers => \%h };
    if (exists $a{json}) {
        $opt->{content} = $JSON->encode($a{json});
        $h{'Content-Type'} //= 'application/json'
            unless grep { lc $_ eq 'content-type' } keys %h;
    } elsif (defined $a{body}) {
        $opt->{content} = $a{body};
    }
    my $url = $path =~ m{^https?://} ? $path : base_url() . $path;
    my $res = _http($a{timeout})->request($method, $url, $opt);
    my %hdr;
    while (my ($k, $v) = each %{ $res->{headers} // {} }) {
        $hdr{lc $k} = ref $v ? join(', ', @$v) : $v;
    }
    my $body = $res->{content} // '';
    my $out = {
        status  => $res->{status},
        reason  => $res->{reason},
        headers => \%hdr,
        body    => $body,
        json    => json_decode($body),
    };
    if ($res->{status} == 599) {
        Test::More::diag("api $method $path: $body");
    }
    return $out;
}

# psql($sql, @bind): $1, $2, ... in $sql are bound (as SQL literals; undef
# is NULL).  Returns the trimmed output (-A -t: unaligned, tuples only,
# columns separated by "|", rows by "\n").  Dies on SQL errors.
sub psql {
    my ($sql, @bind) = @_;
    my $conninfo = $ENV{TEST_NGINX_PG_CONNINFO}
        // die "TEST_NGINX_PG_CONNINFO is not set (run via t/run-suites)\n";
    my @vars;
    $sql =~ s{\$(\d+)\b}{
        my $i = $1;
        die "psql: no value for \$$i\n" if $i < 1 || $i > @bind;
        defined $bind[$i - 1] ? ":'fluentai_p$i'" : 'NULL'
    }ge;
    for my $i (1 .. @bind) {
        push @vars, '-v', "fluentai_p$i=$bind[$i - 1]"
            if defined $bind[$i - 1];
    }
    my @cmd = ('psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
               @vars, '-d', $conninfo, '-f', '-');
    my ($out, $err) = ('', '');
    my $in = $sql;
    $in .= ';' unless $in =~ /;\s*\z/;
    $in .= "\n";
    IPC::Run::run(\@cmd, \$in, \$out, \$err)
        or die "psql failed ($?): $err\nSQL: $sql\n";
    $out =~ s/^\s+|\s+$//g;
    return $out;
}

# { Authorization => "Bearer $token" }, for api(headers => ...)
sub bearer { return { Authorization => "Bearer $_[0]" } }

# the claims of a JWT (its payload, decoded; {} if there is none)
sub claims {
    my (undef, $p) = split /\./, $_[0] // '';
    return json_decode(MIME::Base64::decode_base64url($p // '')) // {};
}

# the test HS256 secret, t/data/jwt.key without its trailing newlines
my $JwtKey;
sub jwt_key {
    return $JwtKey if defined $JwtKey;
    open my $fh, '<', data_dir() . '/jwt.key' or die "jwt.key: $!\n";
    local $/;
    $JwtKey = <$fh>;
    close $fh;
    $JwtKey =~ s/\n+\z//;
    return $JwtKey;
}

# jwt(sub => ..., sid => ..., [type iat exp jti] => ..., header => {...},
#     key => ...): an access token signed like the module's (alg "none" in
#     the header: no signature)
sub jwt {
    my (%c) = @_;
    my $hdr = $c{header} // { alg => 'HS256', typ => 'JWT' };
    my $h = MIME::Base64::encode_base64url($JSON->encode($hdr));
    my $p = MIME::Base64::encode_base64url($JSON->encode({
        sub => $c{sub}, sid => $c{sid}, type => $c{type} // 'access',
        iat => $c{iat} // time, exp => $c{exp} // time + 600,
        jti => $c{jti} // 'test-' . int(rand(1e9)),
    }));
    my $sig = ($hdr->{alg} // '') eq 'none' ? ''
            : MIME::Base64::encode_base64url(
                  Digest::SHA::hmac_sha256("$h.$p", $c{key} // jwt_key()));
    return "$h.$p.$sig";
}

# new_user($tag, name => ..., password => ...): a registered user (a
# failed registration is a failed test), { id email name password access
# token (= access) refresh sid }
sub new_user {
    my ($tag, %o) = @_;
    my $email = unique_email($tag);
    my $pw = $o{password} // 'correct horse battery';
    my $name = $o{name} // "User $tag";
    my $r = api(POST => '/auth/register',
                json => { name => $name, email => $email, password => $pw });
    Test::More::is($r->{status}, 200, "setup: register $tag")
        or Test::More::diag($r->{body});
    my $j = $r->{json} // {};
    return {
        id       => $j->{user}{id} // '',
        email    => $email,
        name     => $name,
        password => $pw,
        access   => $j->{access_token} // '',
        token    => $j->{access_token} // '',
        refresh  => $j->{refresh_token} // '',
        sid      => claims($j->{access_token})->{sid} // '',
    };
}

# wait_until(sub { ... }, $secs, $step): the condition's true value, or 0
# after $secs
sub wait_until {
    my ($cond, $secs, $step) = @_;
    my $deadline = Time::HiRes::time() + $secs;
    while (1) {
        my $v = $cond->();
        return $v if $v;
        return 0 if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep($step // 0.02);
    }
}

my $EmailSeq = 0;
sub unique_email {
    my ($prefix) = @_;
    $prefix //= 'user';
    $prefix = lc $prefix;
    $prefix =~ s/[^a-z0-9._+-]+/-/g;
    my $t = int(Time::HiRes::time() * 1000);
    return sprintf '%s-%d-%d-%d@example.com', $prefix, $$, $t, ++$EmailSeq;
}

1;
