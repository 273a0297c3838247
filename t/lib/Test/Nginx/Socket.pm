package Test::Nginx::Socket;

# A small, compatible subset of openresty's Test::Nginx::Socket written on
# Debian's Test::Base (Test::Nginx itself is not packaged for bookworm).
# The same .t files run under the real Test::Nginx.  See t/README or the
# header of t/sanity.t for the supported sections and environment.

use strict;
use warnings;

use Test::Base -base;
use Test::Nginx::Util ();

our $VERSION = '0.1-fluentai';

our @EXPORT = qw(
    run_tests run_test repeat_each no_shuffle add_block_preprocessor
    env_to_nginx log_level master_on master_off workers
    no_long_string no_root_location server_port
);

die "Test::Nginx::Socket: loaded a foreign Test::Nginx::Util "
    . "($INC{'Test/Nginx/Util.pm'})\n"
    unless $Test::Nginx::Util::FLUENTAI_RUNNER;

our $RepeatEach = $ENV{TEST_NGINX_REPEAT_EACH} || 1;
our $NoShuffle  = $ENV{TEST_NGINX_NO_SHUFFLE} ? 1 : 0;
our $NoLongString = 0;
our $DefaultTimeout = $ENV{TEST_NGINX_TIMEOUT} || 3;

# Test::Base exports prototyped plain functions; ours follow suit.
sub repeat_each (@) {
    if (@_) { $RepeatEach = shift }
    return $RepeatEach;
}
sub no_shuffle () { $NoShuffle = 1 }

# add_block_preprocessor(sub { my $block = shift; ... }): runs on every
# block before it is run, as in Test::Nginx (e.g. default sections:
# $block->set_value(config => ...) unless defined $block->config)
our @Preprocessors;
sub add_block_preprocessor (&) { push @Preprocessors, $_[0] }
sub no_long_string () { $NoLongString = 1 }
sub env_to_nginx (@) { Test::Nginx::Util::env_to_nginx(@_) }
sub log_level (@) { Test::Nginx::Util::log_level(@_) }
sub master_on () { Test::Nginx::Util::master_on() }
sub master_off () { Test::Nginx::Util::master_off() }
sub workers (@) { Test::Nginx::Util::workers(@_) }
sub no_root_location () { Test::Nginx::Util::no_root_location() }
sub server_port () { Test::Nginx::Util::server_port() }

my $Tb = Test::More->builder;

sub _nginx_version () {
    my $out = `$Test::Nginx::Util::NginxBinary -v 2>&1`;
    return $out =~ m{nginx/(\d+)\.(\d+)\.(\d+)}
        ? sprintf('%d.%03d%03d', $1, $2, $3) : undef;
}

sub _ver_num ($) {
    my @p = split /\./, shift;
    push @p, 0 while @p < 3;
    return sprintf('%d.%03d%03d', @p[0 .. 2]);
}

sub _values ($) {
    # a section's value as a list of patterns (strings or Regexps)
    my $v = shift;
    return () unless defined $v;
    return ($v) if ref $v eq 'Regexp';
    return grep { defined } @$v if ref $v eq 'ARRAY';
    chomp(my $s = $v);
    return grep { length } split /\n+/, $s;
}

sub _contains ($$) {
    my ($v, $pat) = @_;
    return 0 unless defined $v;
    for my $e (ref $v eq 'ARRAY' ? @$v : ($v)) {
        next unless defined $e;
        return 1 if index("$e", $pat) >= 0;
    }
    return 0;
}

sub _expand ($$) {
    my ($v, $name) = @_;
    return $v unless defined $v;
    return Test::Nginx::Util::expand_env($v, $name) unless ref $v;
    if (ref $v eq 'ARRAY') {
        return [map { ref $_ ? $_ : Test::Nginx::Util::expand_env($_, $name) }
                @$v];
    }
    return $v;
}

sub _indexed ($$) {
    my ($v, $i) = @_;
    return $v unless ref $v eq 'ARRAY';
    return $v->[$i];
}

sub _fmt ($) {
    my $s = shift;
    $s =~ s/\n/\\n/g;
    $s =~ s/\r/\\r/g;
    $s = substr($s, 0, 300) . '...' if length $s > 300;
    return $s;
}

sub _build_request ($$$) {
    my ($name, $request, $more_headers) = @_;
    my ($first, $content) = split /\n/, $request, 2;
    $first //= '';
    $first =~ s/^\s+|\s+$//g;
    die "$name - request line should be non-empty\n" unless length $first;
    my ($meth, $uri, $ver) = split /\s+/, $first;
    $uri //= '/';
    $ver //= 'HTTP/1.1';

    my $hdrs = '';
    my $chunked = 0;
    for my $h (split /\n+/, $more_headers // '') {
        next if $h =~ /^\s*#/ || $h !~ /\S/;
        my ($k, $v) = split /:\s*/, $h, 2;
        $v //= '';
        $v =~ s/\r$//;
        $chunked = 1 if lc $k eq 'transfer-encoding' && $v eq 'chunked';
        $hdrs .= "$k: $v\r\n";
    }
    my $len = '';
    $content //= '';
    if (!$chunked && $content ne '' && $hdrs !~ /(?:^|\n)Content-Length:/i) {
        # like the real Test::Nginx: the body is trimmed
        $content =~ s/^\s+|\s+$//gs;
        $len = 'Content-Length: ' . length($content) . "\r\n";
    }
    my $pre = '';
    $pre .= "Host: localhost\r\n" if $hdrs !~ /(?:^|\n)Host:/i;
    $pre .= "Connection: close\r\n" if $hdrs !~ /(?:^|\n)Connection/i;
    return ("$meth $uri $ver\r\n$pre$hdrs$len\r\n$content", $meth);
}

sub _check_log_patterns ($$$$) {
    my ($block, $name, $log, $req) = @_;
    my @lines = split /\n/, $log;
    if (defined $block->error_log) {
        for my $pat (_values(_expand($block->error_log, $name))) {
            my $hit = grep { ref $pat ? $_ =~ $pat : index($_, $pat) >= 0 }
                      @lines;
            ok($hit, "$name - pattern \"" . _fmt($pat)
                     . "\" matches a line in error.log (req $req)");
        }
    }
    if (defined $block->no_error_log) {
        for my $pat (_values(_expand($block->no_error_log, $name))) {
            my ($hit) = grep { ref $pat ? $_ =~ $pat : index($_, $pat) >= 0 }
                        @lines;
            ok(!defined $hit, "$name - pattern \"" . _fmt($pat)
                . "\" does not match a line in error.log (req $req)")
                or diag("matched line: $hit");
        }
    }
}

# [alert]/[crit]/[emerg] fail the block unless error_log expects them
sub _check_fatal ($$$) {
    my ($block, $name, $log) = @_;
    my @bad;
    for my $lvl (qw(alert crit emerg)) {
        next if _contains($block->error_log, "[$lvl");
        next if _contains($block->no_error_log, "[$lvl");
        push @bad, grep { /\[$lvl\]/ } split /\n/, $log;
    }
    if (@bad) {
        fail("$name - no [alert], [crit] or [emerg] in error.log");
        diag($_) for @bad;
    }
}

sub _skip_nginx ($$) {
    my ($block, $name) = @_;
    my $spec = $block->skip_nginx // $block->skip_nginx2;
    return 0 unless defined $spec;
    $spec =~ s/^\s+|\s+$//g;
    my ($n, $op, $ver) = $spec =~ /^(\d+)\s*:\s*(<=|>=|==|!=|<|>)\s*([\d.]+)/
        or die "$name - bad skip_nginx: $spec\n";
    my $cur = _nginx_version();
    my $want = _ver_num($ver);
    my $hit = eval "\$cur $op \$want";
    if ($hit) {
        SKIP: { skip("$name - nginx $op $ver", $n) }
        return 1;
    }
    return 0;
}

sub run_test ($) {
    my $block = shift;
    my $name = $block->name;
    my $U = 'Test::Nginx::Util';

    return if _skip_nginx($block, $name);

    my $must_die = $block->must_die;
    my %cfg = (
        name        => $name,
        config      => scalar $block->config,
        http_config => scalar $block->http_config,
        main_config => scalar $block->main_config,
    );

    if (defined $must_die) {
        # like the real one: no valgrind/HUP for blocks that must die
        if (Test::Nginx::Util::server_running()) {
            my @p = Test::Nginx::Util::stop_server();
            if (@p) {
                fail("$name - previous nginx stopped cleanly");
                diag($_) for @p;
            }
        }
        local $Test::Nginx::Util::UseValgrind = 0;
        for my $rep (0 .. $RepeatEach - 1) {
            my $r = Test::Nginx::Util::start_server(%cfg, must_die => 1);
            my $st = $r->{status} // 0;
            if ($must_die =~ /^\s*(\d+)\s*$/) {
                is($st, $1, "$name - die with the expected exit code");
            } else {
                ok(!$r->{ok}, "$name - die as expected");
            }
            if ($r->{ok}) {
                Test::Nginx::Util::stop_server_quietly();
            }
            # startup errors: logs/error.log (nginx -e) and nginx's stderr
            my $log = Test::Nginx::Util::read_error_log(0)
                      . "\n" . ($r->{stderr} // '');
            _check_log_patterns($block, $name, $log, $rep);
        }
        return;
    }

    # valgrind: a server kept for an identical config is stopped (and its
    # memcheck report checked) once the config changes
    if ($Test::Nginx::Util::UseValgrind
        && Test::Nginx::Util::server_running()
        && !Test::Nginx::Util::valgrind_reusable(%cfg))
    {
        my @p = Test::Nginx::Util::stop_server();
        if (@p) {
            fail("$name - previous nginx shut down cleanly");
            diag($_) for @p;
        }
    }

    my $pos_block = Test::Nginx::Util::error_log_size();
    my $r = Test::Nginx::Util::start_server(%cfg);
    $pos_block = 0 unless $r->{reloaded};    # fresh servroot: a new log
    unless ($r->{ok}) {
        fail("$name - nginx started");
        diag($r->{error} // 'unknown error');
        return;
    }

    my $timeout = $block->timeout;
    $timeout = $DefaultTimeout unless defined $timeout && $timeout =~ /\S/;
    ($timeout) = $timeout =~ /([\d.]+)/;
    $timeout = ($timeout || $DefaultTimeout)
               * Test::Nginx::Util::timeout_factor();

    my $pos = $pos_block;
    for my $rep (0 .. $RepeatEach - 1) {
        my ($raw, $meth);
        if (defined $block->raw_request) {
            $raw = _expand($block->raw_request, $name);
            die "$name - array raw_request is not supported\n" if ref $raw;
            $meth = $raw =~ /^(\S+)/ ? $1 : 'GET';
        } elsif (defined $block->request) {
            my $req = _expand($block->request, $name);
            die "$name - array/pipelined requests are not supported\n"
                if ref $req;
            ($raw, $meth) = _build_request($name, $req,
                                           _expand($block->more_headers,
                                                   $name));
        } else {
            die "$name - no --- request section\n";
        }

        my $res = Test::Nginx::Util::http_request(
            raw => $raw, timeout => $timeout, head => $meth eq 'HEAD');
        if ($res->{error}) {
            diag("$name - $res->{error}");
        }

        # status code
        my $code = $res->{status} // '';
        my $want_code = defined $block->error_code
            ? _expand(_indexed($block->error_code, 0), $name) : 200;
        $want_code =~ s/^\s+|\s+$//g;
        is($code, $want_code, "$name - status code ok");

        # headers (the real one checks response_headers_like only when
        # there is no response_headers)
        if (defined $block->response_headers) {
            for my $l (_values(_expand($block->response_headers, $name))) {
                my ($k, $v) = $l =~ /^\s*([^:]+?)\s*:\s*(.*?)\s*$/ or next;
                my $got = Test::Nginx::Util::response_header($res, $k);
                if ($v eq '') {
                    ok(!defined $got, "$name - header $k not present in "
                                      . "the raw headers")
                        or diag("got $k: $got");
                } else {
                    is($got // '', $v, "$name - header $k ok");
                }
            }
        } elsif (defined $block->response_headers_like) {
            for my $l (_values(_expand($block->response_headers_like,
                                       $name))) {
                my ($k, $v) = $l =~ /^\s*([^:]+?)\s*:\s*(.*?)\s*$/ or next;
                my $got = Test::Nginx::Util::response_header($res, $k) // '';
                like($got, qr/^$v$/, "$name - header $k like ok");
            }
        }

        # body
        my $body = $res->{body};
        if (defined $block->response_body) {
            my $exp = _expand($block->response_body, $name);
            if (ref $exp eq 'Regexp') {
                like($body // '', $exp, "$name - response_body - like");
            } elsif ($NoLongString) {
                Test::More::is($body, $exp,
                    "$name - response_body - response is expected");
            } else {
                is($body, $exp,
                   "$name - response_body - response is expected");
            }
        } elsif (defined $block->response_body_like) {
            my $pat = _expand($block->response_body_like, $name);
            my $s = _fmt($body // '');
            like($body // '', ref $pat ? $pat : qr/$pat/s,
                 "$name - response_body_like - response is expected ($s)");
        }

        # error log written since the previous check (the first one
        # includes this block's startup/reload)
        if (defined $block->error_log || defined $block->no_error_log) {
            sleep 0.05 * Test::Nginx::Util::timeout_factor();
            my $size = Test::Nginx::Util::error_log_size();
            my $log = Test::Nginx::Util::read_error_log($pos);
            $pos = $size;
            _check_log_patterns($block, $name, $log, $rep);
        }
    }

    my @problems;
    if ($Test::Nginx::Util::UseHup || $Test::Nginx::Util::UseValgrind) {
        sleep 0.05;    # kept running: reloaded, or reused while unchanged
    } else {
        @problems = Test::Nginx::Util::stop_server();
    }
    _check_fatal($block, $name, Test::Nginx::Util::read_error_log($pos_block));
    if (@problems) {
        fail("$name - nginx shut down cleanly");
        diag($_) for @problems;
    }
}

sub run_tests () {
    my @blocks = blocks();
    unless ($NoShuffle) {
        require List::Util;
        @blocks = List::Util::shuffle(@blocks);
    }
    for my $block (@blocks) {
        $_->($block) for @Preprocessors;
        my $ok = eval { run_test($block); 1 };
        unless ($ok) {
            fail($block->name . " - runner error");
            diag($@);
        }
    }
    if (Test::Nginx::Util::server_running()) {
        my $pos = Test::Nginx::Util::error_log_size();
        my @p = Test::Nginx::Util::stop_server();
        my @bad = Test::Nginx::Util::fatal_log_lines(
            Test::Nginx::Util::read_error_log($pos));
        if (@p || @bad) {
            fail("nginx shut down cleanly at the end of $0");
            diag($_) for @p, @bad;
        }
    }
    Test::Nginx::Util::cleanup();
}

1;
